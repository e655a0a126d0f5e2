"""Audio preprocessing: WAV decoding and log-mel features equal to librosa's."""

import os

import librosa
import numpy as np
import pytest
import tensorflow as tf

from mmkeras.data.audio import AudioFeature, decode_wav, log_mel_spectrogram, mel_filterbank
from mmkeras.specs import load_spec
from mmkeras.testing import three_ways

CONTEXT = "row 3 of test, column audio_path, file /data/clip.wav"
FSDD = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "shared", "data", "fsdd", "recordings")


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def wav_bytes(wave, sample_rate):
    wave = np.asarray(wave, np.float32)
    if wave.ndim == 1:
        wave = wave[:, None]
    return tf.audio.encode_wav(wave, sample_rate)


def reference_wave(data):
    """What TensorFlow decodes from the bytes, averaged to mono (the expected input)."""
    audio, _ = tf.audio.decode_wav(data)
    return audio.numpy().mean(axis=-1)


def signal(sample_rate, num_samples, seed=0, gain=1.0):
    """Noise plus two tones, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / sample_rate
    wave = (0.3 * np.sin(2 * np.pi * 440.0 * t)
            + 0.2 * np.sin(2 * np.pi * (sample_rate / 7.0) * t + 1.0)
            + 0.05 * rng.normal(size=num_samples))
    return (gain * wave).astype(np.float32)


def audio_spec(**options):
    spec = load_spec({
        "spec_version": 1, "name": "audio_test",
        "inputs": {"sound": {"type": "audio", "column": "audio_path", **options}},
        "outputs": {"y": {"type": "regression", "column": "y"}},
    })
    return spec.inputs["sound"]


# -- decode_wav --------------------------------------------------------------------


def test_decode_wav_stereo_is_mean_of_channels():
    rng = np.random.default_rng(1)
    clips = [wav_bytes(rng.uniform(-0.9, 0.9, size=(50, 2)), 8000).numpy() for _ in range(3)]

    def fn(data):
        return decode_wav(data, sample_rate=8000, num_samples=50)

    for out in three_ways(fn, clips):
        assert out.shape == (3, 50) and out.dtype == np.float32
        for got, data in zip(out, clips):
            audio, _ = tf.audio.decode_wav(data)
            np.testing.assert_allclose(got, audio.numpy().mean(axis=1), rtol=0, atol=1e-7)
    # One channel in each: the mean halves it.
    left = np.linspace(-0.5, 0.5, 40, dtype=np.float32)
    data = wav_bytes(np.stack([left, np.zeros_like(left)], axis=1), 8000)
    np.testing.assert_allclose(decode_wav(data, sample_rate=8000, num_samples=40).numpy(),
                               tf.audio.decode_wav(data)[0].numpy()[:, 0] / 2, atol=1e-7)


@pytest.mark.parametrize("crop", ["start", "center"])
@pytest.mark.parametrize("length,num_samples", [(10, 6), (11, 6), (5, 8), (6, 9), (7, 7)])
def test_decode_wav_pad_and_crop_exact(crop, length, num_samples):
    wave = (np.arange(1, length + 1, dtype=np.float32) / 64.0)  # exact in 16-bit PCM
    data = wav_bytes(wave, 8000).numpy()
    ref = reference_wave(data)
    np.testing.assert_allclose(ref, wave, atol=1e-4)
    excess, missing = max(length - num_samples, 0), max(num_samples - length, 0)
    if crop == "start":
        expected = np.pad(ref[:num_samples], [0, missing])
    else:
        expected = np.pad(ref[excess // 2: excess // 2 + num_samples], [missing // 2, missing - missing // 2])
    assert expected.shape == (num_samples,)

    def fn(d):
        return decode_wav(d, sample_rate=8000, num_samples=num_samples, crop=crop)

    for out in three_ways(fn, [data, data]):
        np.testing.assert_array_equal(out[0], expected)


def test_decode_wav_center_positions_by_hand():
    wave = np.arange(1, 11, dtype=np.float32) / 64.0
    data = wav_bytes(wave, 8000)
    ref = reference_wave(data)
    cropped = decode_wav(data, sample_rate=8000, num_samples=6, crop="center").numpy()
    np.testing.assert_array_equal(cropped, ref[2:8])  # 4 extra samples: 2 dropped each side
    padded = decode_wav(wav_bytes(wave[:5], 8000), sample_rate=8000, num_samples=8, crop="center").numpy()
    np.testing.assert_array_equal(padded[:1], [0.0])
    np.testing.assert_array_equal(padded[1:6], ref[:5])
    np.testing.assert_array_equal(padded[6:], [0.0, 0.0])
    start = decode_wav(wav_bytes(wave[:5], 8000), sample_rate=8000, num_samples=8, crop="start").numpy()
    np.testing.assert_array_equal(start, np.concatenate([ref[:5], [0, 0, 0]]))


def test_decode_wav_static_shape_in_graph():
    ds = tf.data.Dataset.from_tensors(wav_bytes(np.zeros(30), 8000)).map(
        lambda d: decode_wav(d, sample_rate=8000, num_samples=20))
    assert ds.element_spec.shape == (20,)


def test_decode_wav_bad_crop_is_value_error():
    with pytest.raises(ValueError, match="crop"):
        decode_wav(wav_bytes(np.zeros(10), 8000), sample_rate=8000, num_samples=10, crop="end")


def test_decode_wav_wrong_sample_rate_eager():
    data = wav_bytes(np.zeros(100), 16000)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        decode_wav(data, sample_rate=8000, num_samples=100, context=CONTEXT)
    assert CONTEXT in info.value.message
    assert "resampling" in info.value.message
    assert "16000" in info.value.message and "8000" in info.value.message


@pytest.mark.parametrize("batched", [False, True])
def test_decode_wav_wrong_sample_rate_in_dataset(batched):
    ds = tf.data.Dataset.from_tensor_slices(([wav_bytes(np.zeros(100), 16000).numpy()], [CONTEXT]))
    ds = ds.map(lambda d, c: decode_wav(d, sample_rate=8000, num_samples=100, context=c))
    if batched:
        ds = ds.batch(2)
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        list(ds)
    assert CONTEXT in info.value.message
    assert "resampling" in info.value.message


def test_decode_wav_not_a_wav_eager():
    for junk in (b"this is not audio at all", tf.io.encode_png(tf.zeros([2, 2, 1], tf.uint8)).numpy()):
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            decode_wav(tf.constant(junk), sample_rate=8000, num_samples=10, context=CONTEXT)
        assert CONTEXT in info.value.message
        assert "Not a WAV" in info.value.message


def graph_ancestors(op):
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def test_decode_wav_not_a_wav_in_dataset_names_context():
    """In a graph (tf.data), the magic-bytes Assert must run before DecodeWav.

    Otherwise which error comes first is a race: a few % of the time the
    pipeline reports DecodeWav's "Header mismatch" without row or file.
    """
    spec = tf.TensorSpec([], tf.string)
    graph = tf.function(lambda d, c: decode_wav(d, sample_rate=8000, num_samples=10, context=c)
                        ).get_concrete_function(spec, spec).graph
    decode = [op for op in graph.get_operations() if op.type == "DecodeWav"]
    check = [op for op in graph.get_operations() if op.type == "Assert" and "check_wav_bytes" in op.name]
    assert len(decode) == 1 and len(check) == 1
    assert check[0] in graph_ancestors(decode[0]), "DecodeWav is not ordered after the check_wav_bytes Assert"

    ds = tf.data.Dataset.from_tensor_slices(([b"this is not audio at all"] * 4, [CONTEXT] * 4))
    ds = ds.map(lambda d, c: decode_wav(d, sample_rate=8000, num_samples=10, context=c),
                num_parallel_calls=4).batch(2)
    for attempt in range(30):
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            list(ds)
        assert "Not a WAV" in info.value.message and CONTEXT in info.value.message, (
            f"attempt {attempt}: the error lacks the context: {info.value.message[:400]}")


# -- log-mel spectrogram: librosa parity ---------------------------------------------

SETTINGS = [
    dict(sample_rate=8000, n_fft=256, hop_length=64, n_mels=40, fmin=0.0, fmax=None),
    dict(sample_rate=16000, n_fft=512, hop_length=160, n_mels=64, fmin=20.0, fmax=7600.0),
    dict(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=128, fmin=0.0, fmax=None),
    dict(sample_rate=16000, n_fft=400, hop_length=160, n_mels=40, fmin=0.0, fmax=8000.0),
]


def librosa_mel(wave, s):
    return librosa.feature.melspectrogram(
        y=np.asarray(wave, np.float32), sr=s["sample_rate"], n_fft=s["n_fft"], hop_length=s["hop_length"],
        n_mels=s["n_mels"], fmin=s["fmin"], fmax=s["fmax"])


def librosa_db(wave, s, top_db):
    return librosa.power_to_db(librosa_mel(wave, s), ref=1.0, amin=1e-10, top_db=top_db).T


def make_clips(sample_rate):
    n = sample_rate // 4 + 37  # not a multiple of the hop
    quiet = signal(sample_rate, n, seed=2, gain=0.1)
    quiet[: n // 5] = 0.0  # silence: the top_db floor is reached
    return np.stack([signal(sample_rate, n, seed=1), quiet])


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: f"sr{s['sample_rate']}-nfft{s['n_fft']}")
def test_log_mel_matches_librosa_db(s):
    clips = make_clips(s["sample_rate"])
    expected = np.stack([librosa_db(w, s, 80.0) for w in clips])
    frames = 1 + clips.shape[1] // s["hop_length"]
    assert expected.shape == (2, frames, s["n_mels"])

    def fn(w):
        return log_mel_spectrogram(w, top_db=80.0, **s)

    eager = fn(tf.constant(clips)).numpy()
    single = np.stack([fn(tf.constant(w)).numpy() for w in clips])
    in_ds = np.concatenate([b.numpy() for b in tf.data.Dataset.from_tensor_slices(clips).batch(2).map(fn)])
    for out in (eager, single, in_ds):
        assert out.shape == expected.shape and out.dtype == np.float32
        for got, ref in zip(out, expected):
            assert rel_err(got, ref) < 1e-5
    # The floor is per clip and really used on the quiet one.
    assert np.isclose(expected[1].min(), expected[1].max() - 80.0, atol=1e-3)
    np.testing.assert_allclose(eager[1].min(), eager[1].max() - 80.0, atol=1e-3)


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: f"sr{s['sample_rate']}-nfft{s['n_fft']}")
def test_log_mel_power_and_unfloored_db_match_librosa(s):
    clips = make_clips(s["sample_rate"])
    fb = mel_filterbank(sample_rate=s["sample_rate"], n_fft=s["n_fft"], n_mels=s["n_mels"],
                        fmin=s["fmin"], fmax=s["fmax"])
    db = log_mel_spectrogram(tf.constant(clips), top_db=None, filterbank=fb, **s).numpy()
    in_ds = np.concatenate([b.numpy() for b in tf.data.Dataset.from_tensor_slices(clips).batch(2).map(
        lambda w: log_mel_spectrogram(w, top_db=None, filterbank=fb, **s))])
    np.testing.assert_allclose(in_ds, db, rtol=1e-6, atol=1e-4)
    for got, wave in zip(db, clips):
        mel = librosa_mel(wave, s)
        assert rel_err(10.0 ** (got.astype(np.float64) / 10.0), mel.T) < 1e-5
        assert rel_err(got, librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T) < 1e-5


def test_mel_filterbank_is_librosa_slaney():
    fb = mel_filterbank(sample_rate=16000, n_fft=512, n_mels=64, fmin=20.0, fmax=7600.0)
    assert fb.shape == (257, 64) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=20.0, fmax=7600.0).T,
                               rtol=1e-6, atol=1e-9)


def fsdd_files(count):
    if not os.path.isdir(FSDD):
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    names = sorted(n for n in os.listdir(FSDD) if n.endswith(".wav"))[:count]
    if not names:
        pytest.skip(f"no WAV files in {FSDD}")
    return [os.path.join(FSDD, n) for n in names]


def test_log_mel_matches_librosa_on_fsdd_recording():
    s = dict(sample_rate=8000, n_fft=256, hop_length=64, n_mels=40, fmin=0.0, fmax=None)
    for path in fsdd_files(2):
        data = tf.io.read_file(path)
        ref_wave, sr = librosa.load(path, sr=None, mono=True)
        assert sr == 8000
        wave = decode_wav(data, sample_rate=8000, num_samples=len(ref_wave)).numpy()
        np.testing.assert_allclose(wave, ref_wave, atol=1e-6)
        got = log_mel_spectrogram(wave, top_db=80.0, **s).numpy()
        assert rel_err(got, librosa_db(ref_wave, s, 80.0)) < 1e-5
        raw = log_mel_spectrogram(wave, top_db=None, **s).numpy()
        assert rel_err(10.0 ** (raw.astype(np.float64) / 10.0), librosa_mel(ref_wave, s).T) < 1e-5


# -- AudioFeature ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate,n_fft", [(8000, 256), (16000, 512), (22050, 1024), (44100, 2048)])
def test_audio_spec_default_fft_and_frames(sample_rate, n_fft):
    spec = audio_spec(sample_rate=sample_rate, duration=0.5)
    assert spec.resolved_n_fft == n_fft
    assert spec.resolved_hop_length == n_fft // 4
    assert spec.num_samples == round(sample_rate * 0.5)
    assert spec.num_frames == 1 + spec.num_samples // (n_fft // 4)
    feature = AudioFeature(spec)
    assert feature.shape == (spec.num_frames, 64)
    assert feature.decoded_shape == (spec.num_samples,)


def test_audio_spec_explicit_options():
    spec = audio_spec(sample_rate=16000, duration=0.25, n_fft=400, hop_length=160, n_mels=40)
    assert (spec.resolved_n_fft, spec.resolved_hop_length, spec.num_samples) == (400, 160, 4000)
    assert spec.num_frames == 1 + 4000 // 160 == 26


def test_audio_feature_end_to_end_matches_librosa():
    spec = audio_spec(sample_rate=8000, duration=0.25, n_mels=32, crop="start")
    feature = AudioFeature(spec)
    n = spec.num_samples
    lengths = [n - 300, n, n + 500]  # padded, exact, cropped
    clips = [wav_bytes(signal(8000, m, seed=i), 8000).numpy() for i, m in enumerate(lengths)]
    contexts = [f"row {i}" for i in range(3)]

    decoded = np.stack([feature.decode(tf.constant(c), r).numpy() for c, r in zip(clips, contexts)])
    ds = tf.data.Dataset.from_tensor_slices((clips, contexts)).map(feature.decode)
    np.testing.assert_array_equal(np.stack([w.numpy() for w in ds]), decoded)
    assert decoded.shape == (3, n)

    s = dict(sample_rate=8000, n_fft=spec.resolved_n_fft, hop_length=spec.resolved_hop_length, n_mels=32,
             fmin=0.0, fmax=None)
    expected = np.stack([librosa_db(w, s, spec.top_db) for w in decoded])
    feats = feature.features(tf.constant(decoded)).numpy()
    assert feats.shape == (3,) + feature.shape == expected.shape
    for got, ref in zip(feats, expected):
        assert rel_err(got, ref) < 1e-5

    # Adapted per-band standardisation: mean 0 and std 1 over the adapt set.
    feature.adapt(None, ds)
    assert feature.mean.shape == (32,) and feature.std.shape == (32,)
    np.testing.assert_allclose(feature.mean, expected.mean(axis=(0, 1)), rtol=1e-4, atol=1e-3)
    out_eager = feature.transform(tf.constant(decoded)).numpy()
    out_ds = np.concatenate([b.numpy() for b in ds.batch(2).map(feature.transform)])
    np.testing.assert_allclose(out_ds, out_eager, rtol=1e-5, atol=1e-4)
    assert out_eager.shape == (3,) + feature.shape
    np.testing.assert_allclose(out_eager.mean(axis=(0, 1)), 0.0, atol=1e-3)
    np.testing.assert_allclose(out_eager.std(axis=(0, 1)), 1.0, atol=1e-2)

    other = AudioFeature(spec)
    other.set_state(feature.get_state())
    np.testing.assert_array_equal(other.transform(tf.constant(decoded)).numpy(), out_eager)


def test_audio_feature_shape_matches_output_for_odd_n_fft():
    """`num_frames` must equal the frames actually produced (and librosa's), odd n_fft too.

    With an odd n_fft the centred padding is n_fft - 1 samples, so there are
    1 + (n - 1) // hop frames, one fewer than 1 + n // hop when hop divides n.
    """
    spec = audio_spec(sample_rate=8000, duration=0.5, n_fft=255, hop_length=50, n_mels=20)
    feature = AudioFeature(spec)
    wave = signal(8000, spec.num_samples)
    out = feature.features(tf.constant(wave[None])).numpy()
    ref = librosa.feature.melspectrogram(y=wave, sr=8000, n_fft=255, hop_length=50, n_mels=20)
    assert out.shape[1] == ref.shape[1]
    assert feature.shape == out.shape[1:], (feature.shape, out.shape)
