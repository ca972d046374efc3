"""Phase 02, backprop: the chain rule, an autograd engine, optimizers. Importable as phase02."""
