"""The external tools: running them (container, executable or the simulator), and reading what
they write (Warp XML and .tomostar, AreTomo .aln and IMOD .xf/.tlt)."""
