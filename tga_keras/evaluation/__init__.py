"""Evaluation: metrics (the official PSNR-Y/SSIM-Y), the evaluator, pictures."""
