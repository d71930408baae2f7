"""The shared trainer, its losses and on-device augmentation."""
