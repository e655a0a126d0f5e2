"""The pipeline edge for audio files: anything but 16-bit PCM WAV becomes a WAV file once.

`tf.audio.decode_wav` (the in-graph decoder the SavedModel uses too) reads
16-bit PCM WAV only. FLAC, OGG/Vorbis, MP3, AIFF, 24-bit, 32-bit and float WAV
are decoded with soundfile (libsndfile) in Python when a table is read, and
written as 16-bit PCM WAV (same rate and channels) into a cache folder that
later reads reuse: `$MMKERAS_AUDIO_CACHE`, or `mmkeras-audio-<user>` in the
temporary folder. The cost is paid once per file (and disk space for the
WAV copies); a file is found again in the cache by its path, size and
modification time.
"""

import getpass
import hashlib
import io
import os
import tempfile

import numpy as np

from mmkeras.data.paths import row_error

_HEADER = 4096  # bytes read to find the `fmt ` chunk


def is_pcm16_wav_header(head):
    """Do these leading bytes say RIFF/WAVE with a `fmt ` chunk of PCM (tag 1), 16 bits?

    Chunks before `fmt ` (JUNK, LIST, bext...) are skipped, as
    `tf.audio.decode_wav` does.

    Example:

    >>> is_pcm16_wav_header(tf.audio.encode_wav(tf.zeros([8, 1]), 8000).numpy()[:44])
    True
    """
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = head[offset:offset + 4], int.from_bytes(head[offset + 4:offset + 8], "little")
        if chunk == b"fmt ":
            fmt = head[offset + 8:offset + 24]
            return len(fmt) == 16 and fmt[:2] == b"\x01\x00" and fmt[14:16] == b"\x10\x00"
        offset += 8 + size + (size & 1)
    return False


def cache_dir():
    """The folder for converted files: `$MMKERAS_AUDIO_CACHE` or `<tmp>/mmkeras-audio-<user>`.

    Example:

    >>> os.path.isdir(cache_dir())
    True
    """
    folder = os.environ.get("MMKERAS_AUDIO_CACHE")
    if not folder:
        try:
            user = getpass.getuser()
        except Exception:  # no user name in some containers
            user = str(os.getuid())
        folder = os.path.join(tempfile.gettempdir(), f"mmkeras-audio-{user}")
    os.makedirs(folder, exist_ok=True)
    return folder


def to_wav_bytes(source):
    """Any audio file soundfile reads -> bytes of a 16-bit PCM WAV (same rate and channels).

    Use it to send FLAC, OGG, MP3... to an exported SavedModel, which takes
    WAV bytes. 16-bit PCM WAV input is returned unchanged.

    Args:
        source: a file path, or the file's bytes.

    Returns:
        `bytes`.

    Example:

    >>> import soundfile
    >>> soundfile.write(os.path.join(tmp_dir, "tone.flac"), np.zeros(800, "float32"), 8000)
    >>> to_wav_bytes(os.path.join(tmp_dir, "tone.flac"))[:4]   # serve(sound=tf.constant([...])) takes these bytes
    b'RIFF'
    """
    import soundfile

    data = source if isinstance(source, (bytes, bytearray)) else None
    if data is None:
        with open(source, "rb") as f:
            data = f.read()
    if is_pcm16_wav_header(bytes(data[:_HEADER])):
        return bytes(data)
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    out = io.BytesIO()
    soundfile.write(out, samples, rate, subtype="PCM_16", format="WAV")
    return out.getvalue()


def converted_path(path, folder=None):
    """The cached 16-bit PCM WAV for `path`, written on first use.

    Example:

    >>> import soundfile
    >>> soundfile.write(os.path.join(tmp_dir, "a.flac"), np.zeros(800, "float32"), 8000)
    >>> wav = converted_path(os.path.join(tmp_dir, "a.flac"), folder=tmp_dir)
    >>> wav.endswith(".wav"), converted_path(os.path.join(tmp_dir, "a.flac"), folder=tmp_dir) == wav   # cached
    (True, True)
    """
    stat = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
    target = os.path.join(folder or cache_dir(), f"{key}.wav")
    if not os.path.isfile(target):
        wav = to_wav_bytes(path)
        fd, tmp = tempfile.mkstemp(suffix=".wav.tmp", dir=os.path.dirname(target))
        with os.fdopen(fd, "wb") as f:
            f.write(wav)
        os.replace(tmp, target)  # atomic: parallel readers never see half a file
    return target


def convert_column(paths, converted, *, table="", column_name=""):
    """Absolute paths -> the same, with files that are not 16-bit PCM WAV replaced by cached WAV copies.

    Args:
        paths: numpy object array of absolute paths (checked to exist).
        converted: a dict to fill with `{cached WAV: original path}` (for messages).
        table, column_name: for messages.

    Returns:
        A numpy object array of paths.

    Raises:
        DataError: naming row, column and file, for a file soundfile cannot read.

    Example:

    >>> paths = np.array([os.path.join(data_dir, p) for p in splits["train"]["audio_path"][:2]], object)
    >>> converted = {}
    >>> bool((convert_column(paths, converted) == paths).all()), converted   # WAV files stay as they are
    (True, {})
    """
    out = np.array(paths, dtype=object)
    folder = None
    for row, path in enumerate(paths):
        if not path:
            continue  # a missing input
        with open(path, "rb") as f:
            head = f.read(_HEADER)
        if is_pcm16_wav_header(head):
            continue
        folder = folder or cache_dir()
        try:
            out[row] = converted_path(path, folder)
        except Exception as e:  # soundfile.LibsndfileError, or a RuntimeError from libsndfile
            raise row_error(row, table, column_name,
                            f"cannot read audio file {path} (not 16-bit PCM WAV, and soundfile failed: {e})") from None
        converted[out[row]] = path
    return out
