"""The product's code location as components (see orchestration_utils/components/)."""
