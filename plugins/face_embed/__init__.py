"""Face embedder trained with an ArcFace margin loss."""
