"""Generates the study-sized archives of bench case A (see bench/README.md).

    python3 bench/gen_data.py OUT_DIR M N OBJECT NPHOTONS SEED

Writes OUT_DIR/study_stored.npz (np.savez) and OUT_DIR/study_deflated.npz
(np.savez_compressed) holding the arrays a Phase C split file carries: diffraction (M, N, N)
float32 amplitudes sqrt(Poisson(s^2 I)) / s of the far field I of probe x object patch (many
zeros at high q), ground_truth_patches (M, N, N, 1) complex64, objectGuess (OBJECT, OBJECT)
complex64, probeGuess (N, N) complex64, x/ycoords(_start) float64 and scan_index int64.
Each file is written to a temporary name and renamed, so an interrupted run leaves no
half-written archive behind. Prints one JSON line describing what it wrote.
"""

import json
import os
import sys
import time

import numpy as np


def smooth_field(rng, size, sigma_px):
    """Real random field with a Gaussian spectrum (correlation length ~sigma_px), std 1."""
    white = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    kernel = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fx * fx + fy * fy))
    field = np.real(np.fft.ifft2(np.fft.fft2(white) * kernel))
    field -= field.mean()
    return field / (field.std() + 1e-12)


def make_probe(n):
    """Soft disk with a defocus phase: spreads the far field over a disk of radius ~n/4."""
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    r = np.hypot(x - n / 2, y - n / 2)
    radius = n * 0.3
    amp = 1.0 / (1.0 + np.exp((r - radius) / 1.5))
    phase = 0.5 * np.pi * (r / radius) ** 2 * (n / 16)
    return (amp * np.exp(1j * phase)).astype(np.complex64)


def main():
    out_dir, m, n, obj, nphotons, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    rng = np.random.default_rng(seed)

    amp = 0.6 + 0.35 * np.tanh(smooth_field(rng, obj, 12.0))
    phase = 1.2 * np.tanh(smooth_field(rng, obj, 20.0))
    object_guess = (amp * np.exp(1j * phase)).astype(np.complex64)
    probe = make_probe(n)

    half = n // 2
    xc = rng.uniform(half, obj - half, size=m)
    yc = rng.uniform(half, obj - half, size=m)
    x0 = np.clip(np.round(xc - half).astype(np.int64), 0, obj - n)
    y0 = np.clip(np.round(yc - half).astype(np.int64), 0, obj - n)

    patches = np.empty((m, n, n, 1), dtype=np.complex64)
    for i in range(m):
        patches[i, :, :, 0] = object_guess[y0[i] : y0[i] + n, x0[i] : x0[i] + n]

    # Noiseless far-field intensities in chunks (orthonormal FFT, DC centred).
    intensity = np.empty((m, n, n), dtype=np.float32)
    chunk = 256
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        field = np.fft.fftshift(np.fft.fft2(patches[s:e, :, :, 0] * probe[None], norm="ortho"), axes=(1, 2))
        intensity[s:e] = (field.real ** 2 + field.imag ** 2).astype(np.float32)
    scale2 = nphotons / float(intensity.sum(axis=(1, 2), dtype=np.float64).mean())
    diffraction = np.empty((m, n, n), dtype=np.float32)
    scale = np.sqrt(scale2)
    for s in range(0, m, chunk):
        e = min(m, s + chunk)
        counts = rng.poisson(intensity[s:e] * scale2)
        diffraction[s:e] = (np.sqrt(counts) / scale).astype(np.float32)
    del intensity

    arrays = {
        "diffraction": diffraction,
        "ground_truth_patches": patches,
        "objectGuess": object_guess,
        "probeGuess": probe,
        "xcoords": xc.astype(np.float64),
        "ycoords": yc.astype(np.float64),
        "xcoords_start": xc.astype(np.float64),
        "ycoords_start": yc.astype(np.float64),
        "scan_index": np.zeros(m, dtype=np.int64),
    }
    written = {}
    for name, writer in (("study_stored.npz", np.savez), ("study_deflated.npz", np.savez_compressed)):
        final = os.path.join(out_dir, name)
        tmp = os.path.join(out_dir, name + ".tmp.npz")
        writer(tmp, **arrays)
        os.replace(tmp, final)
        written[name] = os.path.getsize(final)
    print(
        json.dumps(
            {
                "files": written,
                "uncompressedBytes": int(sum(a.nbytes for a in arrays.values())),
                "zeroFraction": float((diffraction == 0).mean()),
                "diffractionMax": float(diffraction.max()),
                "seconds": round(time.time() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
