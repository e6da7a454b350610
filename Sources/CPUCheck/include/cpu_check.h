#ifndef THERMOSWEEP_CPU_CHECK_H
#define THERMOSWEEP_CPU_CHECK_H

/// The CPU name the release build targeted (`make release CPU=...`), or "generic".
const char *ts_build_cpu(void);

/// Space-separated names of the features the build needs and this processor lacks ("" when none).
/// The check itself runs as a constructor before main; this is for `--version` and tests.
const char *ts_missing_cpu_features(void);

#endif
