package task

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gradeCompetition grades submission text against answers text with a
// competition's grader, as a task without a leaderboard.
func gradeCompetition(t *testing.T, id, answers, submission string) (*Report, error) {
	t.Helper()
	c, ok := LookupCompetition(id)
	if !ok {
		t.Fatalf("%s is not in the table", id)
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"answers.csv": answers, "submission.csv": submission})
	tk := &Task{ID: id, Competition: id, Metric: c.Metric, LowerIsBetter: c.LowerIsBetter, AnswersPath: filepath.Join(dir, "answers.csv")}
	tk.Grader = tk.grader()
	return tk.Grade(filepath.Join(dir, "submission.csv"))
}

func wantScore(t *testing.T, rep *Report, err error, want float64) {
	t.Helper()
	if err != nil {
		t.Fatalf("Grade: %v", err)
	}
	if !rep.ValidSubmission || rep.Score == nil {
		t.Fatalf("submission invalid: %s", rep.Error)
	}
	if math.Abs(*rep.Score-round5(want)) > 1e-9 {
		t.Errorf("score %v, want %v", *rep.Score, round5(want))
	}
}

func wantInvalid(t *testing.T, rep *Report, err error, mention string) {
	t.Helper()
	if err != nil {
		t.Fatalf("Grade error %v: an invalid submission is a result, not an error", err)
	}
	if rep.ValidSubmission || rep.Score != nil {
		t.Fatalf("submission graded %v, want invalid", *rep.Score)
	}
	if !strings.Contains(rep.Error, mention) {
		t.Errorf("error %q does not mention %q", rep.Error, mention)
	}
}

func TestDetectingInsultsIDIsTheCommentText(t *testing.T) {
	// The id column is Comment, third in the answers; a comment may repeat;
	// the submission leaves Date out and orders its columns its own way.
	answers := "Insult,Date,Comment\n1,20120618192155Z,\"you idiot\"\n0,,\"thanks\"\n1,,\"you idiot\"\n0,,\"ok\"\n"
	rep, err := gradeCompetition(t, "detecting-insults-in-social-commentary", answers,
		"Comment,Insult\n\"ok\",0.2\n\"you idiot\",0.9\n\"thanks\",0.3\n\"you idiot\",0.8\n")
	wantScore(t, rep, err, 1)
	rep, err = gradeCompetition(t, "detecting-insults-in-social-commentary", answers,
		"Comment,Insult\n\"ok\",0.2\n\"you idiot\",0.9\n\"thanks\",0.3\n\"nice\",0.8\n")
	wantInvalid(t, rep, err, `"nice"`)
}

func TestIWildCam2019UnnamedIndexColumn(t *testing.T) {
	// MLE-bench writes the sample submission with its index, an unnamed
	// first column; a submission that keeps it is graded on Id and Category.
	answers := "Id,Category\na,0\nb,1\nc,1\nd,2\n"
	rep, err := gradeCompetition(t, "iwildcam-2019-fgvc6", answers, ",Id,Category\n0,a,0\n1,b,1\n2,c,2\n3,d,2\n")
	// Classes 0: F1 1; 1: tp 1, fn 1 -> 2/3; 2: tp 1, fp 1 -> 2/3.
	wantScore(t, rep, err, (1+2.0/3+2.0/3)/3)
	// Python's int() truncates 1.5 read as a float, but refuses a word.
	rep, err = gradeCompetition(t, "iwildcam-2019-fgvc6", answers, "Id,Category\na,0\nb,1\nc,1.5\nd,2\n")
	wantScore(t, rep, err, 1)
	rep, err = gradeCompetition(t, "iwildcam-2019-fgvc6", answers, "Id,Category\na,0\nb,1\nc,deer\nd,2\n")
	wantInvalid(t, rep, err, "not an integer class id")
}

func TestJigsawToxicSkipsUnscoredRows(t *testing.T) {
	head := "id,toxic,severe_toxic,obscene,threat,insult,identity_hate\n"
	answers := head + "a,0,0,0,0,0,0\nb,1,1,1,1,1,1\nc,-1,-1,-1,-1,-1,-1\nd,0,0,0,0,0,0\ne,1,1,1,1,1,1\n"
	// Scored rows a, b, d, e: b and e above a and d in every column, except
	// that toxic ranks d above b (AUC 3/4). Row c, marked -1, would break
	// every column if it were scored.
	sub := head + "e,0.9,0.9,0.9,0.9,0.9,0.9\nc,0.99,0.1,0.1,0.1,0.1,0.1\na,0.1,0.1,0.1,0.1,0.1,0.1\nd,0.7,0.2,0.2,0.2,0.2,0.2\nb,0.6,0.8,0.8,0.8,0.8,0.8\n"
	rep, err := gradeCompetition(t, "jigsaw-toxic-comment-classification-challenge", answers, sub)
	wantScore(t, rep, err, (0.75+5)/6)
}

func TestStanfordCovidIsMaskedMCRMSE(t *testing.T) {
	// config.yaml says multi-class log loss; the grader is the mean over
	// reactivity, deg_Mg_pH10 and deg_Mg_50C of the RMSE over kept rows.
	answers := "id_seqpos,reactivity,deg_Mg_pH10,deg_pH10,deg_Mg_50C,deg_50C,keep\n" +
		"x_0,1,2,0,3,0,True\nx_1,1,2,0,3,0,True\nx_2,100,100,0,100,0,False\n"
	sub := "id_seqpos,reactivity,deg_Mg_pH10,deg_pH10,deg_Mg_50C,deg_50C\n" +
		"x_2,0,0,0,0,0\nx_1,2,2,9,3,9\nx_0,0,4,9,3,9\n"
	rep, err := gradeCompetition(t, "stanford-covid-vaccine", answers, sub)
	// reactivity errs by 1 on both kept rows (RMSE 1), deg_Mg_pH10 by 0 and
	// 2 (RMSE sqrt 2), deg_Mg_50C by nothing.
	wantScore(t, rep, err, (1+math.Sqrt2)/3)
	rep, err = gradeCompetition(t, "stanford-covid-vaccine", answers,
		"id_seqpos,reactivity,deg_Mg_pH10,deg_Mg_50C\nx_2,0,0,0\nx_1,2,2,3\nx_0,0,4,3\n")
	wantInvalid(t, rep, err, "deg_pH10")
	tk, err := Open(Options{MLEBench: "stanford-covid-vaccine", MLEBenchRepo: needRegistry(t), MLEBenchData: prepareSplit(t, needRegistry(t), "stanford-covid-vaccine")})
	if err != nil {
		t.Fatal(err)
	}
	if !tk.LowerIsBetter || !strings.Contains(tk.Metric, "MCRMSE") {
		t.Errorf("metric %q, lower is better %v: want MCRMSE, lower is better", tk.Metric, tk.LowerIsBetter)
	}
}

func TestVentilatorScoresInhalationOnly(t *testing.T) {
	// config.yaml says dice-hausdorff-combo; the grader is the MAE over the
	// answers' rows with u_out == 0.
	answers := "id,breath_id,u_out,pressure\n1,1,0,10\n2,1,0,20\n3,1,1,30\n"
	rep, err := gradeCompetition(t, "ventilator-pressure-prediction", answers, "id,pressure\n3,1000\n1,11\n2,17\n")
	wantScore(t, rep, err, 2)
}

func TestNomad2018PairsRowsInFileOrder(t *testing.T) {
	// The grader never sorts by id: row i of the submission is scored
	// against row i of the answers, whatever the ids say.
	answers := "id,formation_energy_ev_natom,bandgap_energy_ev\n1,0,0\n2,0,0\n"
	e1 := fmt.Sprintf("%.17g", math.E-1)
	rep, err := gradeCompetition(t, "nomad2018-predict-transparent-conductors", answers,
		"id,formation_energy_ev_natom,bandgap_energy_ev\n2,"+e1+",0\n1,0,0\n")
	// Formation: log1p errors 1 and 0 -> RMSLE sqrt(1/2); bandgap 0.
	wantScore(t, rep, err, math.Sqrt(0.5)/2)
	rep, err = gradeCompetition(t, "nomad2018-predict-transparent-conductors", answers,
		"id,formation_energy_ev_natom,bandgap_energy_ev\n1,-0.1,0\n2,0,0\n")
	wantInvalid(t, rep, err, "RMSLE")
}

func TestLogLossAsScikitLearn15(t *testing.T) {
	// Hard 0/1 predictions, all wrong: scikit-learn >= 1.5 clips at float64's
	// eps and does not renormalise, so each row costs -log(eps) = 36.04365;
	// with the old 1e-15 clip it was 34.53878.
	answers := "id,EAP,HPL,MWS\na,1,0,0\nb,0,1,0\nc,0,0,1\n"
	rep, err := gradeCompetition(t, "spooky-author-identification", answers,
		"id,EAP,HPL,MWS\na,0,1,0\nb,0,0,1\nc,1,0,0\n")
	wantScore(t, rep, err, -math.Log(f64Eps))
	if *rep.Score != 36.04365 {
		t.Errorf("spooky hard wrong predictions score %v, MLE-bench says 36.04365", *rep.Score)
	}
	// Binary: a single column becomes [1-p, p] before clipping.
	rep, err = gradeCompetition(t, "dogs-vs-cats-redux-kernels-edition", "id,label\n1,1\n2,0\n", "id,label\n1,0\n2,0\n")
	wantScore(t, rep, err, -math.Log(f64Eps)/2)
}

func TestValidityBothWays(t *testing.T) {
	spooky := "id,EAP,HPL,MWS\na,1,0,0\nb,0,1,0\n"
	plant := "image_id,healthy,multiple_diseases,rust,scab\na,1,0,0,0\nb,0,1,0,0\nc,0,0,1,0\nd,0,0,0,1\n"
	leaf := "id,Acer_Capillipes,Acer_Circinatum\n1,1,0\n2,0,1\n"
	tests := []struct {
		name, id, answers, sub string
		invalid                string // "" when MLE-bench accepts it
	}{
		{"auc above 1", "aerial-cactus-identification", "id,has_cactus\na,0\nb,1\n", "id,has_cactus\na,0.1\nb,1.2\n", "[0, 1]"},
		{"auc below 0", "aerial-cactus-identification", "id,has_cactus\na,0\nb,1\n", "id,has_cactus\na,-0.1\nb,1\n", "[0, 1]"},
		{"auc reordered and extra columns", "aerial-cactus-identification", "id,has_cactus\na,0\nb,1\n", "has_cactus,note,id\n0.9,x,b\n0.1,y,a\n", ""},
		{"auc missing id", "aerial-cactus-identification", "id,has_cactus\na,0\nb,1\n", "id,has_cactus\na,0.1\nc,0.9\n", `"c"`},
		{"auc wrong row count", "aerial-cactus-identification", "id,has_cactus\na,0\nb,1\n", "id,has_cactus\na,0.1\n", "rows"},
		{"rows not summing to one", "spooky-author-identification", spooky, "id,EAP,HPL,MWS\na,0.5,0.3,0.1\nb,0.1,0.8,0.1\n", "sum"},
		{"rows summing to one within 1e-6", "spooky-author-identification", spooky, "id,EAP,HPL,MWS\na,0.5,0.3,0.2000001\nb,0.1,0.8,0.1\n", ""},
		{"spooky reordered columns", "spooky-author-identification", spooky, "id,MWS,EAP,HPL\nb,0.1,0.1,0.8\na,0.2,0.5,0.3\n", ""},
		{"spooky id not first", "spooky-author-identification", spooky, "EAP,id,HPL,MWS\n0.5,a,0.3,0.2\n0.1,b,0.8,0.1\n", "id must come first"},
		{"icecube extra column", "icecube-neutrinos-in-deep-ice", "event_id,azimuth,zenith\n1,1,1\n", "event_id,azimuth,zenith,x\n1,1,1,0\n", "exactly"},
		{"hotel extra column", "hotel-id-2021-fgvc8", "image,hotel_id\na.jpg,1 2\n", "image,hotel_id,x\na.jpg,2 1,0\n", ""},
		{"whale extra column", "whale-categorization-playground", "Image,Id\na.jpg,w_1\n", "Image,Id,x\na.jpg,w_1,0\n", "exactly"},
		{"spooky extra column", "spooky-author-identification", spooky, "id,EAP,HPL,MWS,x\na,0.5,0.3,0.2,0\nb,0.1,0.8,0.1,0\n", "columns"},
		{"probability above 1", "spooky-author-identification", spooky, "id,EAP,HPL,MWS\na,1.2,-0.1,-0.1\nb,0.1,0.8,0.1\n", "[0, 1]"},
		{"leaf extra column", "leaf-classification", leaf, "id,Acer_Capillipes,Acer_Circinatum,x\n1,1,0,0\n2,0,1,0\n", "columns"},
		{"dog breed extra column", "dog-breed-identification", "id,a,b\n1,1,0\n2,0,1\n", "id,b,a,x\n2,1,0,z\n1,0,1,z\n", ""},
		{"lmsys rows rounded to 6 decimals", "lmsys-chatbot-arena", "id,winner_model_a,winner_model_b,winner_tie\n1,1,0,0\n",
			"id,winner_model_a,winner_model_b,winner_tie\n1,0.3333333,0.3333333,0.3333334\n", ""},
		{"lmsys rows off by 1e-5", "lmsys-chatbot-arena", "id,winner_model_a,winner_model_b,winner_tie\n1,1,0,0\n",
			"id,winner_model_a,winner_model_b,winner_tie\n1,0.33334,0.33333,0.33334\n", "sum"},
		{"plant 2020 reordered", "plant-pathology-2020-fgvc7", plant, "scab,rust,image_id,healthy,multiple_diseases\n0,0,a,0.9,0.1\n0,0,b,0.1,0.9\n0,0.8,c,0,0\n0.7,0,d,0,0\n", ""},
		{"plant 2020 extra column", "plant-pathology-2020-fgvc7", plant, "image_id,healthy,multiple_diseases,rust,scab,x\na,1,0,0,0,0\nb,0,1,0,0,0\nc,0,0,1,0,0\nd,0,0,0,1,0\n", "exactly"},
		{"pawpularity out of range", "petfinder-pawpularity-score", "Id,Pawpularity\na,20\n", "Id,Pawpularity\na,0.5\n", "[1, 100]"},
		{"kappa on fractional grades", "aptos2019-blindness-detection", "id_code,diagnosis\na,0\nb,2\n", "id_code,diagnosis\na,0.5\nb,2\n", "whole number"},
		{"accuracy, labels of another kind", "tensorflow-speech-recognition-challenge", "fname,label\na,yes\nb,no\n", "fname,label\na,1\nb,0\n", "kind"},
		{"accuracy, numbers compare as numbers", "tabular-playground-series-dec-2021", "Id,Cover_Type\n1,2\n2,3\n", "Id,Cover_Type\n2,3.0\n1,2\n", ""},
		{"tweet with nothing on either side", "tweet-sentiment-extraction", "textID,selected_text\na,\n", "textID,selected_text\na,\n", "divides by zero"},
		{"h&m predicting extra customers", "h-and-m-personalized-fashion-recommendations", "customer_id,prediction\nc1,01 02\n",
			"customer_id,prediction\nc0,09\nc1,01 03\n", ""},
		{"h&m missing a customer", "h-and-m-personalized-fashion-recommendations", "customer_id,prediction\nc1,01 02\nc2,03\n",
			"customer_id,prediction\nc1,01\n", `"c2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := gradeCompetition(t, tt.id, tt.answers, tt.sub)
			if tt.invalid != "" {
				wantInvalid(t, rep, err, tt.invalid)
				return
			}
			if err != nil || !rep.ValidSubmission {
				t.Fatalf("MLE-bench accepts this submission; Gome says %v %s", err, rep.Error)
			}
		})
	}
}

func TestTextAnswersCompareAsPandasReadsThem(t *testing.T) {
	answers := "id,after\n0_0,NA\n0_1,1.0\n0_2,x\n"
	rep, err := gradeCompetition(t, "text-normalization-challenge-english-language", answers, "id,after\n0_0,nan\n0_1,1\n0_2,x\n")
	// "NA" and "nan" are both missing to pandas, printed "nan"; "1.0" and "1"
	// are different text in a column of text.
	wantScore(t, rep, err, 2.0/3)
}

func TestAnswerFaultsAreTaskErrors(t *testing.T) {
	tests := []struct{ name, id, answers, sub string }{
		{"one class only", "aerial-cactus-identification", "id,has_cactus\na,1\nb,1\n", "id,has_cactus\na,0.2\nb,0.4\n"},
		{"answers lack the target", "aerial-cactus-identification", "id,label\na,1\nb,0\n", "id,has_cactus\na,0.2\nb,0.4\n"},
		{"answers not numbers", "denoising-dirty-documents", "id,value\na,x\n", "id,value\na,0.5\n"},
		{"duplicate answer header", "ventilator-pressure-prediction", "id,pressure,pressure\n1,2,3\n", "id,pressure\n1,2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := gradeCompetition(t, tt.id, tt.answers, tt.sub)
			if !errors.Is(err, ErrInvalidTask) {
				t.Fatalf("Grade = %+v, %v: want a task error (ErrInvalidTask), not an invalid submission", rep, err)
			}
			if !strings.Contains(err.Error(), "answers") {
				t.Errorf("error %q does not say the answers are at fault", err)
			}
		})
	}
}

func TestSplitLayoutErrors(t *testing.T) {
	reg := needRegistry(t)
	const id = "spooky-author-identification"
	data := prepareSplit(t, reg, id)
	// A checkout whose leaderboard is still a Git LFS pointer.
	lfsRepo := t.TempDir()
	comp := filepath.Join(lfsRepo, "mlebench", "competitions", id)
	copyFile(t, filepath.Join(reg, "mlebench", "competitions", id, "config.yaml"), filepath.Join(comp, "config.yaml"))
	copyFile(t, filepath.Join(reg, "mlebench", "competitions", id, "description.md"), filepath.Join(comp, "description.md"))
	writeTree(t, comp, map[string]string{"leaderboard.csv": "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n"})
	noLB := t.TempDir()
	copyFile(t, filepath.Join(comp, "config.yaml"), filepath.Join(noLB, "mlebench", "competitions", id, "config.yaml"))

	tests := []struct {
		name string
		opts Options
		is   error
		want []string
	}{
		{"LFS pointer leaderboard", Options{MLEBench: id, MLEBenchRepo: lfsRepo, MLEBenchData: data}, ErrInvalidTask, []string{"Git LFS pointer", "git lfs pull", lfsRepo}},
		{"missing leaderboard", Options{MLEBench: id, MLEBenchRepo: noLB, MLEBenchData: data}, ErrInvalidTask, []string{"no leaderboard", "git lfs pull"}},
		{"unknown competition", Options{MLEBench: "no-such-comp", MLEBenchRepo: reg, MLEBenchData: data}, ErrNotFound, []string{"no-such-comp", "config"}},
		{"not prepared", Options{MLEBench: id, MLEBenchRepo: reg, MLEBenchData: t.TempDir()}, ErrNotFound, []string{"mlebench prepare -c " + id, "--mlebench-data"}},
		{"no checkout", Options{MLEBench: id, MLEBenchData: data}, ErrNotFound, []string{"--mlebench-repo", EnvMLEBenchRepo}},
		{"both a folder and an id", Options{Dir: ".", MLEBench: id, MLEBenchRepo: reg}, ErrInvalidTask, []string{"name one"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvMLEBenchRepo, "")
			_, err := Open(tt.opts)
			if !errors.Is(err, tt.is) {
				t.Fatalf("Open error %v, want %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	// The merged layout refuses an LFS pointer too.
	merged := newTask(t, id, map[string]string{
		"config.yaml":                           "id: " + id + "\n",
		"prepared/public/sample_submission.csv": "id,EAP,HPL,MWS\na,0.3,0.3,0.4\n",
		"leaderboard.csv":                       "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1\n",
	})
	if _, err := Load(merged); err == nil || !strings.Contains(err.Error(), "git lfs pull") {
		t.Errorf("merged layout with an LFS pointer: %v, want a refusal naming git lfs pull", err)
	}
}

func TestSplitLayoutFromEnvironment(t *testing.T) {
	reg := needRegistry(t)
	const id = "aerial-cactus-identification"
	data := prepareSplit(t, reg, id)
	t.Setenv(EnvMLEBenchRepo, reg)
	t.Setenv(EnvMLEBenchData, data)
	tk, err := Open(Options{MLEBench: id})
	if err != nil {
		t.Fatal(err)
	}
	if tk.DataDir != data || tk.PublicDir != filepath.Join(data, id, "prepared", "public") || !strings.Contains(tk.Description, "cactus") {
		t.Errorf("task %+v: want the data and description from the environment's folders", tk)
	}
	// The fingerprint names the competition's metric canonically, so the
	// success memory matches it with other AUC tasks.
	if fp, err := tk.Fingerprint(); err != nil || fp.Metric != "auc" {
		t.Errorf("fingerprint %+v, %v: want metric auc", fp, err)
	}
	// ~/.cache/mle-bench/data is the default data directory.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvMLEBenchData, "")
	copyFile(t, filepath.Join(data, id, "prepared", "public", "sample_submission.csv"), filepath.Join(home, ".cache", "mle-bench", "data", id, "prepared", "public", "sample_submission.csv"))
	if tk, err = Open(Options{MLEBench: id}); err != nil || !strings.HasPrefix(tk.PublicDir, filepath.Join(home, ".cache", "mle-bench", "data")) {
		t.Errorf("default data directory: %v, %+v", err, tk)
	}
}

func TestPlainFolderNeedsMetricAndDirection(t *testing.T) {
	dir := newTask(t, "plain", map[string]string{
		"description.md":        "Predict y.",
		"train.csv":             "id,y\n1,2\n",
		"sample_submission.csv": "id,y\n9,0\n",
	})
	_, err := Open(Options{Dir: dir})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open without a metric: %v", err)
	}
	for _, w := range []string{"--metric", "--lower-is-better", "metric and lower_is_better"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	lower := true
	tk, err := Open(Options{Dir: dir, Metric: "rmse", LowerIsBetter: &lower})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Layout != LayoutPlain || tk.PublicDir != dir || tk.Metric != "rmse" || !tk.LowerIsBetter || tk.Description != "Predict y." || tk.IDColumn != "id" {
		t.Errorf("plain task %+v", tk)
	}
	// A metric Gome does not compute drives the run in the given direction
	// but cannot grade.
	higher := false
	tk, err = Open(Options{Dir: dir, Metric: "my-f2", LowerIsBetter: &higher})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Metric != "my-f2" || tk.LowerIsBetter || !strings.HasPrefix(tk.Grader, "none:") {
		t.Errorf("task %+v: want metric my-f2, higher is better, no grader", tk)
	}
}

// TestPythonGrader runs a competition's own grader through a Python with
// mlebench installed. A stand-in mlebench package (the real one is not
// installable here) answers through the same calls Gome makes.
func TestPythonGrader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	reg := needRegistry(t)
	const id = "vinbigdata-chest-xray-abnormalities-detection"
	data := prepareSplit(t, reg, id)
	pkg := t.TempDir()
	writeTree(t, pkg, map[string]string{
		"mlebench/__init__.py":      "",
		"mlebench/grade_helpers.py": "class InvalidSubmissionError(Exception):\n    pass\n",
		"mlebench/utils.py": `import csv
def read_csv(p):
    with open(p) as f:
        return list(csv.DictReader(f))
def load_answers(p):
    return read_csv(p)
`,
		"mlebench/registry.py": `from pathlib import Path
from mlebench.grade_helpers import InvalidSubmissionError
def grade(sub, ans):
    if len(sub) != len(ans):
        raise InvalidSubmissionError("wrong number of rows")
    return 0.25 * len(ans) + 0.123456
class _Grader:
    grade_fn = staticmethod(grade)
class _Competition:
    def __init__(self, data, cid):
        self.answers = data / cid / "prepared" / "private" / "answers.csv"
        self.grader = _Grader()
class _Registry:
    def __init__(self, data=None):
        self.data = data
    def set_data_dir(self, d):
        return _Registry(Path(d))
    def get_competition(self, cid):
        return _Competition(self.data, cid)
registry = _Registry()
`,
	})
	wrapper := filepath.Join(t.TempDir(), "python-with-mlebench")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nPYTHONPATH="+pkg+" exec "+py+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The stand-in reads the answers where the config puts them.
	copyFile(t, filepath.Join("testdata", "mlebench", id, "answers.csv"), filepath.Join(data, id, "prepared", "private", "answers.csv"))
	tk, err := Open(Options{MLEBench: id, MLEBenchRepo: reg, MLEBenchData: data, MLEBenchPython: wrapper})
	if err != nil {
		t.Fatal(err)
	}
	if tk.Grader != "mlebench-python:"+id {
		t.Fatalf("grader %q", tk.Grader)
	}
	rep, err := tk.Grade(filepath.Join("testdata", "mlebench", id, "submission.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Score == nil || *rep.Score != 0.37346 || rep.Grader != "mlebench-python:"+id {
		t.Errorf("report %+v: want score 0.37346 (rounded) from the Python grader", rep)
	}
	bad := filepath.Join(t.TempDir(), "two.csv")
	writeTree(t, filepath.Dir(bad), map[string]string{"two.csv": "image_id,PredictionString\na,x\nb,y\n"})
	rep, err = tk.Grade(bad)
	wantInvalid(t, rep, err, "wrong number of rows")

	tk.Python = filepath.Join(t.TempDir(), "no-python")
	if _, err := tk.Grade(bad); !errors.Is(err, ErrNoGrader) || !strings.Contains(err.Error(), "mlebench installed") {
		t.Errorf("a Python that does not run: %v, want ErrNoGrader saying mlebench must be installed", err)
	}
}

func TestWriteSpecReloadsTheSameTask(t *testing.T) {
	reg := needRegistry(t)
	const id = "nomad2018-predict-transparent-conductors"
	plain := newTask(t, "plain", map[string]string{"description.md": "Predict y.", "sample_submission.csv": "id,y\n9,0\n"})
	lower := true
	for _, o := range []Options{
		{MLEBench: id, MLEBenchRepo: reg, MLEBenchData: prepareSplit(t, reg, id)},
		{Dir: plain, Metric: "mae", LowerIsBetter: &lower},
	} {
		want, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		ref := t.TempDir()
		got, err := WriteSpec(o, ref)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := Load(ref); err != nil || again.ID != want.ID {
			t.Fatalf("Load(reference) = %v, %v", again, err)
		}
		if got.ID != want.ID || got.Metric != want.Metric || got.LowerIsBetter != want.LowerIsBetter || got.Grader != want.Grader ||
			got.PublicDir != want.PublicDir || got.SampleSubmission != want.SampleSubmission || got.Description != want.Description ||
			got.AnswersPath != want.AnswersPath || got.LeaderboardPath != want.LeaderboardPath || got.IDColumn != want.IDColumn {
			t.Errorf("reloaded\n%+v\nwant\n%+v", got, want)
		}
	}
}

func TestCheckSubmissionFollowsTheCompetitionsColumns(t *testing.T) {
	reg := needRegistry(t)
	for _, tt := range []struct {
		id, header string
		problem    string // "" when the grader accepts the header
	}{
		{"dog-breed-identification", "reordered, with an extra column", ""},
		{"leaf-classification", "with an extra column", "unexpected columns"},
		{"detecting-insults-in-social-commentary", "without Date", ""},
		{"detecting-insults-in-social-commentary", "without Insult", `missing columns "Insult"`},
	} {
		t.Run(tt.id+" "+tt.header, func(t *testing.T) {
			tk, err := Open(Options{MLEBench: tt.id, MLEBenchRepo: reg, MLEBenchData: prepareSplit(t, reg, tt.id)})
			if err != nil {
				t.Fatal(err)
			}
			sample, err := readTable(tk.SampleSubmission)
			if err != nil {
				t.Fatal(err)
			}
			header := append([]string(nil), sample.header...)
			rows := sample.rows
			switch tt.header {
			case "reordered, with an extra column", "with an extra column":
				if tt.header[0] == 'r' {
					header[0], header[len(header)-1] = header[len(header)-1], header[0]
					for i := range rows {
						rows[i] = append([]string(nil), rows[i]...)
						rows[i][0], rows[i][len(rows[i])-1] = rows[i][len(rows[i])-1], rows[i][0]
					}
				}
				header = append(header, "extra")
				for i := range rows {
					rows[i] = append(rows[i], "0")
				}
			case "without Date", "without Insult":
				drop := strings.TrimPrefix(tt.header, "without ")
				j := sample.col(drop)
				header = append(header[:j:j], header[j+1:]...)
				for i := range rows {
					rows[i] = append(rows[i][:j:j], rows[i][j+1:]...)
				}
			}
			var b strings.Builder
			w := csvWriter(&b)
			_ = w.Write(header)
			_ = w.WriteAll(rows)
			path := filepath.Join(t.TempDir(), "submission.csv")
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			err = tk.CheckSubmission(path)
			switch {
			case tt.problem == "" && err != nil:
				t.Errorf("CheckSubmission refuses what the grader accepts: %v", err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Errorf("CheckSubmission = %v, want a problem mentioning %q", err, tt.problem)
			}
		})
	}
}
