"""The stacks: each one only wires constructs together and grants access between them."""
