"""Sound made locally: songs synthesised from the prompt, speech from espeak-ng.

A song is a chord progression plus a beat whose key and tempo come from a hash of the
prompt (two takes differ by their seed). Speech uses espeak-ng when it is on PATH and
otherwise a syllable-like tone sequence, so the sandbox works on a bare machine.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from .media import ffmpeg, rng_for

RATE = 22050
_LANG = {"en": "en", "th": "th", "ja": "ja", "zh-CN": "cmn", "ko": "ko"}


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    pcm = (np.clip(samples, -1.0, 1.0) * 32000).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def to_mp3(wav: bytes) -> bytes:
    proc = subprocess.run([ffmpeg(), "-loglevel", "error", "-f", "wav", "-i", "-", "-c:a", "libmp3lame",
                           "-b:a", "96k", "-f", "mp3", "-"], input=wav, capture_output=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError("mp3 encoding failed: " + proc.stderr.decode(errors="replace")[-300:])
    return proc.stdout


def song(prompt: str, seconds: float, take: int = 0) -> np.ndarray:
    """A little instrumental: four chords, a bass line and a kick on every beat."""
    r = rng_for(f"{prompt}#take{take}")
    bpm = r.randrange(80, 140)
    root = 220.0 * 2 ** (r.randrange(0, 12) / 12)
    minor = r.random() < 0.5
    prog = [0, 5, 7, 3] if minor else [0, 5, 9, 7]
    r.shuffle(prog)
    t = np.arange(int(seconds * RATE)) / RATE
    beat = 60.0 / bpm
    bar = beat * 4
    out = np.zeros_like(t)
    for i, deg in enumerate(prog * int(seconds / bar / len(prog) + 2)):
        start = i * bar
        if start >= seconds:
            break
        sel = (t >= start) & (t < start + bar)
        tt = t[sel] - start
        env = np.exp(-tt * 1.5)
        f0 = root * 2 ** (deg / 12)
        third = 3 if minor else 4
        for k, semis in enumerate((0, third, 7)):
            out[sel] += 0.12 * env * np.sin(2 * np.pi * f0 * 2 ** (semis / 12) * tt + k)
        out[sel] += 0.18 * np.sin(2 * np.pi * f0 / 2 * tt) * np.exp(-(tt % beat) * 4)
    kick_t = t % beat
    out += 0.35 * np.sin(2 * np.pi * (50 + 80 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 12)
    fade = np.minimum(1.0, np.minimum(t / 0.5, (seconds - t) / 1.0))
    result: np.ndarray = out * np.clip(fade, 0.0, 1.0) * 0.8
    return result


def speech(text: str, voice: str, slow: bool, language: str | None) -> bytes:
    """WAV speech for ``text``: espeak-ng when installed, a synthetic voice otherwise."""
    text = " ".join(text.split())[:3000] or "..."
    exe = shutil.which("espeak-ng")
    if exe:
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "speech.wav"
            lang = _LANG.get(language or "en", "en")
            pitch = str(20 + (sum(map(ord, voice)) % 60))
            cmd = [exe, "-v", lang, "-p", pitch, "-s", "120" if slow else "165", "-w", str(out), text]
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=120)
                if proc.returncode == 0 and out.exists() and out.stat().st_size > 100:
                    return out.read_bytes()
            except (OSError, subprocess.TimeoutExpired):
                pass
    return wav_bytes(babble(text, voice, slow))


def babble(text: str, voice: str, slow: bool) -> np.ndarray:
    """One vowel-like tone per syllable, pitched by the voice: speech-shaped, not speech."""
    r = rng_for(voice)
    f0 = r.uniform(90, 240)
    words = text.split()[:400]
    syl = 0.28 if slow else 0.2
    parts: list[np.ndarray] = []
    for word in words:
        for _ in range(max(1, len(word) // 3)):
            t = np.arange(int(syl * RATE)) / RATE
            f = f0 * r.uniform(0.9, 1.2)
            env = np.sin(np.pi * t / syl) ** 2
            tone = sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 2, 3)) * env * 0.3
            parts.append(tone)
        parts.append(np.zeros(int(0.08 * RATE)))
    return np.concatenate(parts) if parts else np.zeros(RATE // 2)
