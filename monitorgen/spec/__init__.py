"""The spec front end: YAML with positions, JSON Schema, and the mapping to the model."""
