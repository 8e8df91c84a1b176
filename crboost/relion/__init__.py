"""RELION 5 project files: STAR writing, default_pipeline.star and its lock, job.star, and a
validator of what RELION's own programs expect."""
