package sandbox

import (
	"fmt"
	"slices"
	"strings"
)

// Debian releases BuildImage knows how to fill. Trixie is the default: it has torch 2.6,
// scikit-learn 1.4 and xgboost 3.0 where bookworm has 1.13, 1.2 and 1.7.
const (
	SuiteBookworm = "bookworm"
	SuiteTrixie   = "trixie"
	DefaultSuite  = SuiteTrixie
)

// Suites lists the Debian releases BuildImage accepts, default first.
func Suites() []string { return []string{SuiteTrixie, SuiteBookworm} }

// MLPackage is a Python package the sandbox image offers: the Debian package that installs it,
// the module a solution imports, and where it is found.
type MLPackage struct {
	Debian string   // Debian package, e.g. python3-sklearn
	Module string   // import name, e.g. sklearn
	Slim   bool     // also in the slim image
	Suites []string // only in these releases; nil = in all of them
}

// MLPackages lists the Python packages of the sandbox image, in the order a prompt names them.
// Debian has no lightgbm, catboost, timm, transformers or albumentations: they are in the CUDA
// image (sandbox/image/Dockerfile.cuda), built from PyPI where a registry answers.
func MLPackages() []MLPackage {
	return []MLPackage{
		{Debian: "python3-numpy", Module: "numpy", Slim: true},
		{Debian: "python3-pandas", Module: "pandas", Slim: true},
		{Debian: "python3-scipy", Module: "scipy", Slim: true},
		{Debian: "python3-sklearn", Module: "sklearn", Slim: true},
		{Debian: "python3-pil", Module: "PIL", Slim: true},
		{Debian: "python3-xgboost", Module: "xgboost"},
		{Debian: "python3-torch", Module: "torch"},
		{Debian: "python3-torchvision", Module: "torchvision"},
		{Debian: "python3-torchaudio", Module: "torchaudio"},
		{Debian: "python3-opencv", Module: "cv2"},
		{Debian: "python3-skimage", Module: "skimage"},
		{Debian: "python3-statsmodels", Module: "statsmodels"},
		{Debian: "python3-optuna", Module: "optuna"},
		{Debian: "python3-imblearn", Module: "imblearn"},
		{Debian: "python3-nltk", Module: "nltk"},
		{Debian: "python3-gensim", Module: "gensim", Suites: []string{SuiteBookworm}}, // dropped from trixie
		{Debian: "python3-sentencepiece", Module: "sentencepiece"},
		{Debian: "python3-matplotlib", Module: "matplotlib"},
		{Debian: "python3-seaborn", Module: "seaborn"},
		{Debian: "python3-h5py", Module: "h5py"},
		{Debian: "python3-joblib", Module: "joblib"},
		{Debian: "python3-tqdm", Module: "tqdm"},
		{Debian: "python3-soundfile", Module: "soundfile"},
		{Debian: "python3-safetensors", Module: "safetensors", Suites: []string{SuiteTrixie}},
		{Debian: "python3-einops", Module: "einops", Suites: []string{SuiteTrixie}},
	}
}

// ImagePackages returns the ML packages an image of suite holds, slim or full.
func ImagePackages(suite string, slim bool) []MLPackage {
	var out []MLPackage
	for _, p := range MLPackages() {
		if slim && !p.Slim {
			continue
		}
		if p.Suites != nil && !slices.Contains(p.Suites, suite) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// checkSuite reports an unknown suite with the flag that fixes it.
func checkSuite(suite string) error {
	if slices.Contains(Suites(), suite) {
		return nil
	}
	return fmt.Errorf("%w: unknown Debian suite %q; use --suite %s", ErrBuild, suite, strings.Join(Suites(), " or --suite "))
}
