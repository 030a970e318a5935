"""Low-level helpers every other part uses: disk cache, progress lines, thread pinning, process lifetime,
provenance, phase timing, figure plumbing, the one-line usage error. They import nothing else of ``benchmark``."""
