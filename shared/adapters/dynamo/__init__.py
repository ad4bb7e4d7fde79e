"""DynamoDB behind the stores' ports: one module per table family, over a shared codec."""
