"""Phase 01, neural networks: from one neuron to a forward pass. Importable as phase01."""
