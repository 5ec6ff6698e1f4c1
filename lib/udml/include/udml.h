/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* udml.h — public API of the UDML numeric core (method.md, design.md).
 *
 * Plain C11 on OpenBLAS; no GLib, no libav. The core never exits, aborts or
 * prints: fallible calls return a UdmlStatus and fill an optional
 * caller-owned UdmlError. Messages go to the log hook.
 *
 * Dimension glossary, the one every comment of lib/udml uses:
 *   N batch, M modalities, K classes,
 *   C channels (Ci in, Co out), H height, W width, HW = H*W,
 *   F input size of one sample (C*H*W; F_m for modality m),
 *   I, O linear in / out features, Hd estimator hidden width.
 */
#ifndef UDML_H
#define UDML_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UDML_MAX_MODALITIES 4
#define UDML_MAX_STAGES 8
#define UDML_MAX_CLASSES 64
#define UDML_NAME_LEN 32
#define UDML_MAX_WINDOW_FRAMES 16  /* video frames stacked per window */
#define UDML_NOISE_LEVELS 11    /* labels 1..11, 1 = clean (method.md §3) */

/* ---------------------------------------------------------------- status */

typedef enum {
  UDML_OK = 0,
  UDML_ERR_ARG,          /* invalid argument or configuration */
  UDML_ERR_NOMEM,
  UDML_ERR_IO,           /* open/read/write/rename failed */
  UDML_ERR_TRUNCATED,    /* file ends early */
  UDML_ERR_MAGIC,        /* not a .udml model / checkpoint */
  UDML_ERR_VERSION,      /* format version newer than this build */
  UDML_ERR_CRC,          /* header or tensor checksum mismatch */
  UDML_ERR_DIMS,         /* absurd or inconsistent dimensions */
  UDML_ERR_FORMAT,       /* other malformed content */
  UDML_ERR_MISMATCH,     /* model/checkpoint/data do not fit together */
  UDML_ERR_INTERRUPTED,  /* training stopped by the progress callback */
  UDML_ERR_NUMERIC,      /* loss became NaN/inf */
  UDML_ERR_UNSUPPORTED,  /* needs a layer this call does not have (e.g. libav) */
} UdmlStatus;

typedef struct {
  UdmlStatus code;
  char msg[512];         /* names the file/tensor, expected vs actual */
} UdmlError;

const char *udml_status_name (UdmlStatus s);

#if defined(__GNUC__)
#define UDML_PRINTF(a, b) __attribute__ ((format (printf, a, b)))
#else
#define UDML_PRINTF(a, b)
#endif

/* Fills err (if non-NULL) and returns code, so callers can write
 * `return udml_error_set (err, UDML_ERR_IO, "%s: ...", path);`. */
UdmlStatus udml_error_set (UdmlError *err, UdmlStatus code, const char *fmt, ...) UDML_PRINTF (3, 4);

typedef enum { UDML_LOG_ERROR, UDML_LOG_WARNING, UDML_LOG_INFO, UDML_LOG_DEBUG } UdmlLogLevel;
typedef void (*UdmlLogFunc) (UdmlLogLevel level, const char *msg, void *user);
/* Process-wide; NULL silences. Default: silent. */
void udml_set_log_func (UdmlLogFunc func, void *user);

/* Sets the OpenBLAS thread count (n >= 1). */
void udml_set_num_threads (int n);

/* ----------------------------------------------------------- configuration */

typedef enum { UDML_MODALITY_AUDIO = 0, UDML_MODALITY_VIDEO = 1 } UdmlModalityKind;

typedef enum {
  UDML_POLICY_STATIC = 0,   /* w = 1 */
  UDML_POLICY_PE,           /* w = M softmax(-ln mean std^2) */
  UDML_POLICY_UDML,         /* full method */
  UDML_POLICY_UDML_NUE,     /* pe uncertainty with D */
  UDML_POLICY_UDML_MC,      /* estimator without D */
  UDML_POLICY_UDML_POS,     /* one stage, noise from epoch 0 */
  UDML_POLICY_COUNT
} UdmlPolicy;

const char *udml_policy_name (UdmlPolicy p);           /* "udml-nue" ... */
int udml_policy_from_name (const char *name);           /* -1 if unknown */

typedef enum { UDML_SCALING_RESIDUAL = 0, UDML_SCALING_PAPER = 1 } UdmlScaling;

/* Per-modality input and encoder. The encoder is n_stages blocks of
 * conv3x3(pad 1) -> BN -> ReLU, each but the last followed by maxpool 2x2;
 * channels[n_stages-1] is the embedding width (method.md §1). */
typedef struct {
  char name[UDML_NAME_LEN];      /* "audio", "video" */
  UdmlModalityKind kind;
  int in_c, in_h, in_w;          /* input tensor C x H x W */
  int n_stages;
  int channels[UDML_MAX_STAGES];
  float norm_mean, norm_std;     /* x' = (x - mean) / std, raw feature units */
} UdmlModalitySpec;

/* Feature extraction parameters; the core stores them, lib/media uses them. */
typedef struct {
  int sample_rate;      /* 16000 */
  int n_fft;            /* 512 */
  int win_length;       /* 400 (25 ms) */
  int hop_length;       /* 160 (10 ms) */
  int n_mels;           /* 64 */
  float fmin, fmax;     /* 0, 8000 */
  float log_floor;      /* 1e-6: ln(power + floor) */
  int frame_width, frame_height, frame_channels;   /* 64, 64, 1 */
  int fps_num, fps_den;                            /* 10/1 for AV-digits clips */
  int64_t window_ns, hop_ns;                       /* 1 s / 1 s */
  int frames_per_window;  /* 1: the video input is this many frames evenly
                           * spaced across the window, stacked as channels
                           * (in_c = frames_per_window * frame_channels);
                           * 0 reads as 1 */
} UdmlFeatureSpec;

typedef struct {
  int n_modalities;
  UdmlModalitySpec mod[UDML_MAX_MODALITIES];
  int n_classes;
  char labels[UDML_MAX_CLASSES][UDML_NAME_LEN];
  int est_hidden;             /* 64 */
  float est_norm;             /* 0.25: estimator input batch-normalised, then
                               * times this; 0: raw GAP(std) (docs/method.md) */
  UdmlPolicy policy;
  UdmlScaling scaling;
  UdmlFeatureSpec features;
} UdmlConfig;

/* Fills the default audio+video configuration of method.md §1 with the
 * ten digit labels "0".."9". */
void udml_config_default (UdmlConfig *cfg);

/* Checks ranges and internal consistency; names the offending field. */
UdmlStatus udml_config_validate (const UdmlConfig *cfg, UdmlError *err);

/* Size of one input of modality m (C*H*W). */
size_t udml_config_input_size (const UdmlConfig *cfg, int m);

/* Index of the modality of this kind, or -1. */
int udml_config_find (const UdmlConfig *cfg, UdmlModalityKind kind);

/* ------------------------------------------------------------------- model */

typedef struct UdmlModel UdmlModel;

/* New model with freshly initialised parameters (reference-code §1.7).
 * (transfer full) */
UdmlModel *udml_model_new (const UdmlConfig *cfg, uint64_t seed, UdmlError *err);
void udml_model_free (UdmlModel *model);

/* (transfer none) */
const UdmlConfig *udml_model_config (const UdmlModel *model);

/* Saved dependency EMA D_m and alpha_m = M D_m / sum_k D_k. */
float udml_model_dependency (const UdmlModel *model, int m);
float udml_model_alpha (const UdmlModel *model, int m);

/* Training provenance stored as free text metadata ("key=value\n" lines). */
const char *udml_model_provenance (const UdmlModel *model);
void udml_model_set_provenance (UdmlModel *model, const char *text);

/* Clean-noise calibration of modality m: the 99th percentile of sigma-hat
 * on clean validation windows, measured after training; 0 = unknown
 * (files from before the key). */
float udml_model_calibration (const UdmlModel *model, int m);
void udml_model_set_calibration (UdmlModel *model, int m, float sigma);

/* Sets per-modality input standardisation (before training). */
void udml_model_set_normalisation (UdmlModel *model, int m, float mean, float std);

size_t udml_model_num_params (const UdmlModel *model);

/* What a model file may demand of the loader: values in the input of one
 * modality (C*H*W), and inference workspace per sample. A small file can
 * declare an input of gigabytes; the loader refuses it with the figure. */
#define UDML_MAX_INPUT_VALUES ((size_t) 1 << 22)
#define UDML_MAX_SAMPLE_WORKSPACE ((size_t) 256 << 20)

/* Model file (.udml, design.md). Save is atomic (temp file + rename).
 * Load and verify refuse inputs or workspace over the limits above
 * (UDML_ERR_DIMS) and non-finite configuration values or weights. */
UdmlStatus udml_model_save (const UdmlModel *model, const char *path, UdmlError *err);
UdmlStatus udml_model_load (const char *path, UdmlModel **out, UdmlError *err);
/* Checks the header, the limits and every CRC without keeping the model. */
UdmlStatus udml_model_verify (const char *path, UdmlError *err);

/* Tensor table access, for udml-inspect. */
int udml_model_num_tensors (const UdmlModel *model);
const char *udml_model_tensor_name (const UdmlModel *model, int i);
/* dims[4] filled, returns ndim. */
int udml_model_tensor_dims (const UdmlModel *model, int i, int dims[4]);

/* -------------------------------------------------------------- inference */

/* Which terms enter the weights at inference (method.md §5, last line). */
typedef enum {
  UDML_INFER_AS_TRAINED = 0,      /* the model's own policy */
  UDML_INFER_NO_DEPENDENCY,       /* all D equal */
  UDML_INFER_NO_UNCERTAINTY,      /* g = 0: weights from D only */
  UDML_INFER_STATIC,              /* w = 1 */
} UdmlInferMode;

typedef struct {
  int present;               /* took part in the fusion */
  float noise;               /* predicted sigma-hat = exp(g/2); 0 if absent */
  float alpha;               /* dependency alpha_m (fraction: alpha/M) */
  float uncertainty_weight;  /* softmax(-g) share over present, sums to 1 */
  float weight;              /* final w_m / M, sums to 1 over present */
  int label;                 /* argmax of the unimodal logits o_m */
} UdmlModalityResult;

typedef struct {
  int label;                 /* argmax of fused logits */
  float confidence;          /* probs[label] */
  float probs[UDML_MAX_CLASSES];
  UdmlModalityResult mod[UDML_MAX_MODALITIES];
} UdmlResult;

/* Inference workspace for batches up to max_batch; all memory is allocated
 * here, none per call. One per thread. (transfer full) */
typedef struct UdmlInfer UdmlInfer;
UdmlInfer *udml_infer_new (const UdmlModel *model, int max_batch, UdmlError *err);
void udml_infer_free (UdmlInfer *inf);

/* inputs[m]: N x F_m raw features (audio log-mel, video pixels 0..255),
 * NULL for a modality absent in the whole batch. present: N x M flags, or
 * NULL for "all non-NULL inputs present". out: N results. */
UdmlStatus udml_infer_run (UdmlInfer *inf, int n, const float *const inputs[],
    const uint8_t *present, UdmlInferMode mode, UdmlResult *out, UdmlError *err);

/* ------------------------------------------------------------------ noise */

/* xoshiro256** seeded from (seed, stream): the same pair gives the same numbers. */
typedef struct { uint64_t s[4]; } UdmlRng;
void udml_rng_seed (UdmlRng *rng, uint64_t seed, uint64_t stream);
uint64_t udml_rng_u64 (UdmlRng *rng);
float udml_rng_uniform (UdmlRng *rng);        /* [0,1) */
float udml_rng_normal (UdmlRng *rng);         /* N(0,1) */

/* Noise operators of method.md §3 on one raw feature tensor of n values,
 * in place. level 1 is identity. */
void udml_noise_gaussian (UdmlModalityKind kind, float *x, size_t n, int level, UdmlRng *rng);
/* Salt-and-pepper at intensity e: a fraction e/20 of the values set to the
 * tensor's min or max with equal probability. */
void udml_noise_salt (float *x, size_t n, int e, UdmlRng *rng);
/* Like udml_noise_gaussian on a channels x plane tensor; video noise is one
 * field shared by all channels (method.md §3). */
void udml_noise_gaussian_planes (UdmlModalityKind kind, float *x, int channels,
    size_t plane, int level, UdmlRng *rng);

/* Degradation kinds, each with levels 1 (clean) .. UDML_NOISE_LEVELS (worst),
 * defined once, in noise.c (method.md "Degradation kinds"), for the trainer,
 * udml-eval and the udmlnoise element. Video kinds act on pixels 0..255,
 * audio kinds on the waveform (full scale 1); gaussian and salt are both.
 * Sizes are relative (to min(H, W), to seconds and hertz), so a camera frame
 * and the model input, a 48 kHz microphone and the 16 kHz model input,
 * degrade alike. */
typedef enum {
  UDML_DEGRADE_GAUSSIAN = 0,  /* video: as udml_noise_gaussian; audio: SNR */
  UDML_DEGRADE_SALT,          /* as udml_noise_salt at e = level */
  UDML_DEGRADE_DARK,          /* video: gain 2^-(L-1)/2 plus sensor noise */
  UDML_DEGRADE_BLUR,          /* video: defocus disk, radius (L-1) D/100 */
  UDML_DEGRADE_MOTION,        /* video: horizontal line, half length (L-1) D/100 */
  UDML_DEGRADE_OCCLUSION,     /* video: black centred patch, area (L-1)/10 */
  UDML_DEGRADE_BLOCKY,        /* video: MJPEG, lib/media (udml_media_blocky_*) */
  UDML_DEGRADE_FREEZE,        /* video: a new frame every L-th, 11 never */
  UDML_DEGRADE_BABBLE,        /* audio: four talkers at SNR 30 - 5 (L-2) dB */
  UDML_DEGRADE_CLIP,          /* audio: gain 3.6 (L-1) dB, clipped at full scale */
  UDML_DEGRADE_DROPOUT,       /* audio: muted (L-1)/10 of every 100 ms */
  UDML_DEGRADE_MUFFLE,        /* audio: low-pass at 8000 * 2^-0.6 (L-1) Hz */
  UDML_DEGRADE_HUM,           /* audio: mains + 4 harmonics at SNR 30 - 5 (L-2) dB */
  UDML_DEGRADE_COUNT
} UdmlDegrade;

const char *udml_degrade_name (UdmlDegrade kind);     /* "gaussian", "salt", ... */
int udml_degrade_from_name (const char *name);         /* -1 if unknown */
/* 1 if the kind applies to that modality. */
int udml_degrade_applies (UdmlDegrade kind, UdmlModalityKind modality);

/* An 8-bit video frame of W x H pixels with n_comp components each (1 for
 * grey or luma, 3 for R, G, B); component c of pixel (x, y) is
 * comp[c][y * stride + x * pstride]. Other bytes (padding, alpha) are kept. */
typedef struct {
  uint8_t *comp[4];
  int n_comp;
  int width, height;
  size_t stride, pstride;
} UdmlFrameU8;

/* A kind's video rule on one C x H x W float frame (0..255), in place:
 * gaussian is udml_noise_gaussian_planes, salt udml_noise_salt over all
 * C*H*W values. Blocky returns UDML_ERR_UNSUPPORTED (it needs libav: see
 * udml_media_blocky_planes), freeze UDML_ERR_ARG (it spans frames: see
 * udml_degrade_freeze_frames). Audio-only kinds: UDML_ERR_ARG. Allocates a
 * workspace for blur and motion. */
UdmlStatus udml_degrade_video (UdmlDegrade kind, int level, float *x, int c,
    int h, int w, UdmlRng *rng, UdmlError *err);

/* The same without allocating: ws holds at least
 * udml_degrade_video_ws_size (kind, level, h, w) bytes (0: ws may be NULL). */
size_t udml_degrade_video_ws_size (UdmlDegrade kind, int level, int h, int w);
UdmlStatus udml_degrade_video_ws (UdmlDegrade kind, int level, float *x, int c,
    int h, int w, UdmlRng *rng, void *ws, size_t ws_bytes, UdmlError *err);

/* Freeze on the T frames of one sample (T x F floats, frame = F values):
 * frame t shows frame n*floor(t/n) with n = level (level 11: frame 0). */
void udml_degrade_freeze_frames (float *x, int t, size_t f, int level);

/* Occluded rectangle of a W x H frame at a level (w = h = 0 at level 1). */
void udml_degrade_occlusion_rect (int width, int height, int level, int *x0,
    int *y0, int *w, int *h);
/* Gain of dark at a level (1 at level 1). */
float udml_degrade_dark_gain (int level);

/* Applies a kind at a level to an 8-bit frame in place: the video rule of
 * udml_degrade_video on the frame's components as floats, rounded to the
 * nearest grey level. Gaussian and salt draw the numbers of their float
 * rules in order (salt per pixel, all components to 0 or 255), so with the
 * same rng the frame equals the float rule after rounding (salt: on a grey
 * frame that spans 0..255). Blocky and freeze as in udml_degrade_video. */
UdmlStatus udml_degrade_frame_u8 (UdmlDegrade kind, int level, UdmlFrameU8 *frame,
    UdmlRng *rng, UdmlError *err);

/* Per-stream state for the kinds that span buffers (freeze: the held frame;
 * muffle: the filter state) and cached workspaces, so a stream allocates
 * only when the frame size or channel count grows. */
typedef struct UdmlDegradeStream UdmlDegradeStream;
UdmlDegradeStream *udml_degrade_stream_new (void);   /* (transfer full), NULL: no memory */
void udml_degrade_stream_free (UdmlDegradeStream *st);
void udml_degrade_stream_reset (UdmlDegradeStream *st); /* forget frames and filter state */

/* udml_degrade_frame_u8 for frame after frame of one stream; also freeze,
 * which counts frames from the last reset (the frame size must not change
 * between frames; a change restarts the count). */
UdmlStatus udml_degrade_stream_frame_u8 (UdmlDegradeStream *st, UdmlDegrade kind,
    int level, UdmlFrameU8 *frame, UdmlRng *rng, UdmlError *err);

/* An audio buffer: n frames of `channels` interleaved samples at `rate`. */
typedef struct {
  int rate, channels;
  int64_t t0;            /* stream index of the first frame: dropout spans and
                            hum phase follow the stream across buffers */
  float ref_rms;         /* reference RMS (full scale 1) of the SNR kinds;
                            0: the buffer's own RMS */
  float mains_hz;        /* hum fundamental, 0 = 50 */
  const float *other;    /* babble: mono speech at rate; four talkers read it
                            looped at (t0 + i + j n_other / 4) mod n_other,
                            j = 0..3; required for babble */
  size_t n_other;
  double other_rms;      /* babble: udml_degrade_babble_rms of other, when the
                            caller keeps it; 0: computed on every call */
} UdmlAudioParams;

/* A kind's audio rule on a waveform in place (x: n x channels, full scale
 * 1). st may be NULL (muffle then starts from rest). Video-only kinds:
 * UDML_ERR_ARG. The model's input is log-mel: the trainer applies these to
 * the window's mono waveform before udml_media_mel_compute. */
UdmlStatus udml_degrade_audio (UdmlDegradeStream *st, UdmlDegrade kind, int level,
    const UdmlAudioParams *p, float *x, size_t n, UdmlRng *rng, UdmlError *err);
/* The same on signed 16-bit samples (full scale 32768), through float. */
UdmlStatus udml_degrade_audio_s16 (UdmlDegradeStream *st, UdmlDegrade kind, int level,
    const UdmlAudioParams *p, int16_t *x, size_t n, UdmlRng *rng, UdmlError *err);
/* The RMS of the four talkers' sum over one period of other (n samples),
 * which babble scales to the level's SNR. */
double udml_degrade_babble_rms (const float *other, size_t n);

/* --------------------------------------------------------------- training */

/* Features of n samples, one contiguous N x F_m array per modality. */
typedef struct {
  int n;
  const float *x[UDML_MAX_MODALITIES];
  const int *y;              /* N labels in [0, K) */
} UdmlDataset;

typedef struct {
  int epoch, epochs;
  int step, steps_per_epoch; /* step within the epoch */
  int stage;                 /* 1 or 2 */
  float lr;
  float loss, accuracy;      /* running means over the epoch so far */
  int epoch_done;            /* 1 on the call after the last step */
  float val_accuracy;        /* valid when epoch_done and a val set was given; else -1 */
  float val_loss;
} UdmlTrainProgress;

/* Return nonzero to stop: a checkpoint is written (if a path is set) and
 * udml_train returns UDML_ERR_INTERRUPTED. */
typedef int (*UdmlProgressFunc) (const UdmlTrainProgress *p, void *user);

/* Stage-2 noise of one sample's modality m at a level in 2..11, in place
 * on its raw features x (F_m values), instead of the Gaussian noise of
 * method.md §3. row: the sample's index in the training set (-1 when the
 * trainer is driven directly). rng is seeded from (seed, step, sample,
 * modality), so a resumed run replays. Must be safe to call from several
 * threads at once. */
typedef UdmlStatus (*UdmlNoiseFunc) (void *user, int m, int level, int row,
    float *x, UdmlRng *rng, UdmlError *err);

typedef struct {
  int epochs;                /* 30 */
  int batch;                 /* 64 */
  float lr;                  /* 0.01 */
  float momentum;            /* 0.9 */
  float weight_decay;        /* 1e-4 */
  float clip;                /* 40 */
  float gamma;               /* 4 */
  float lambda;              /* 0.1 */
  float beta;                /* < 0: 1e-5 * 27648 / (C h w) */
  int estimator_task_grad;   /* 0: only L_est trains the estimator; 1: the task
                              * loss too, through w (docs/method.md) */
  uint64_t seed;
  int threads;               /* workers splitting each batch (trainer.h), 1 */
  const char *checkpoint;    /* written atomically after each epoch; NULL = none */
  int checkpoint_every_steps;/* also mid-epoch; 0 = epoch ends only */
  const char *resume;        /* checkpoint to resume from, or NULL */
  UdmlProgressFunc progress;
  void *progress_user;
  uint64_t data_fingerprint; /* hash of the training data (manifest rows and
                              * feature spec), stored in checkpoints; a resume
                              * from a checkpoint of other data is refused.
                              * 0 = unknown (never compared) */
  UdmlNoiseFunc noise;       /* NULL: Gaussian noise */
  void *noise_user;
} UdmlTrainOptions;

void udml_train_options_default (UdmlTrainOptions *opt);

/* The data fingerprint a checkpoint was written with (0: unknown, or a
 * checkpoint from before the field). Reads and checks only the header. */
UdmlStatus udml_checkpoint_data_fingerprint (const char *path, uint64_t *out,
    UdmlError *err);

/* Computes per-modality mean/std of the training features and stores them
 * in the model; trains with the progressive schedule of method.md §4 for the
 * model's policy. Deterministic for a seed on one thread. */
UdmlStatus udml_train (UdmlModel *model, const UdmlDataset *train, const UdmlDataset *val,
    const UdmlTrainOptions *opt, UdmlError *err);

#ifdef __cplusplus
}
#endif
#endif /* UDML_H */
