"""IAM knowledge shared by forecast, repairs and the sandbox: managed-policy catalog, key policies, privilege deltas."""
