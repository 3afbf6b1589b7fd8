# The whole trickle stack (template.yaml's resources) for Terraform. No provider block here:
# the region and credentials come from the environment (AWS_REGION, AWS_PROFILE, ...), so this
# folder works as a root module (`terraform apply` here) and as a child module alike.
terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
