"""PyTorch base architectures for (batch, leads, samples) ECG input, plus the registry."""
