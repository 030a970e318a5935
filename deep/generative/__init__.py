"""Deep generative models (PixelCNN, VAE, GAN) and the nearest-neighbour checks on their samples."""
