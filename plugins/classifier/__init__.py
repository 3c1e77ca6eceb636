"""The ``classifier`` plugin: a small CNN for 28x28 grey images (digits) with a features output."""
