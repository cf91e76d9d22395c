"""What Kokoro voices cannot do, and why: read by the family record and the backend alike."""

#: Why Kokoro cannot run the batched mode (kept beside the backend that refuses a batch).
BATCH_UNSUPPORTED = (
    "Kokoro cannot run batched: its ONNX graph takes one sequence per run (tokens [1, N]), "
    "returns one unpadded audio with no lengths, and picks one style row per sequence length; "
    "use --mode parallel or pipelined instead."
)
#: Why Kokoro voices cannot stream window by window (measured: docs/kokoro.md, "Two stages").
WINDOWS_UNSUPPORTED = (
    "Kokoro voices cannot stream within a sentence: their decoder normalises over the whole sentence "
    "(instance norm, per-tensor int8 ranges), so windows would not join into the same audio; they stream "
    "sentence by sentence: drop --windows."
)
