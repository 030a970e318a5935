"""``bench report``: the Markdown/HTML reports, their figures, the method costs table and the published numbers."""
