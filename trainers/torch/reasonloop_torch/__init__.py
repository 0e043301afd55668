"""reasonloop's PyTorch trainer: the same policy update as core/train, sharded with FSDP2."""
