"""crboost: cryo-ET job orchestration on SLURM, as a Snakemake workflow writing a RELION 5 project."""

__version__ = "0.1.0"
