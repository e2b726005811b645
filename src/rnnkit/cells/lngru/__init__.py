"""The LayerNorm GRU, all in one place: the step math and reference loops (``reference``),
their compiled mirror (``compiled``), the one-step cell (``cell``) and the layer (``layer``);
``rnnkit`` exports the layer and the cell."""
