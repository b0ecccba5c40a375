package task

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Competition is what Gome knows of one MLE-bench competition beyond its
// config.yaml: the columns its grader reads, the metric it computes and how
// it decides a submission is valid. The table is keyed by competition id
// because config.yaml's grader.name is wrong for some competitions.
type Competition struct {
	// ID is the competition id, the folder name under mlebench/competitions.
	ID string
	// IDColumn is the column that identifies a row of the submission.
	IDColumn string
	// Targets are the columns the submission must fill; nil means the
	// sample submission's columns other than IDColumn (class lists).
	Targets []string
	// Metric names what the grader computes.
	Metric string
	// LowerIsBetter is the metric's direction (the leaderboard decides
	// medals; the two agree on all 75 competitions).
	LowerIsBetter bool
	// ExactColumns holds when the grader refuses columns beyond the id
	// and the targets; otherwise extra columns are ignored, in any order.
	ExactColumns bool
	// Notes lists the quirks of the competition's grader that Gome follows.
	Notes string
	// ListTargets holds when a target cell is a space-separated list (of
	// labels, ids, or RLE runs), never checked as one number.
	ListTargets bool

	grade      gradeFunc // nil (and gradeJSONL nil): only the competition's own grader (--mlebench-python)
	gradeJSONL func(sub *frame, answers []map[string]any) (float64, error)
}

// Native reports whether Gome grades the competition itself; otherwise only
// MLE-bench's own grader, through --mlebench-python, can.
func (c Competition) Native() bool { return c.grade != nil || c.gradeJSONL != nil }

// LookupCompetition returns the table entry of an MLE-bench competition.
func LookupCompetition(id string) (Competition, bool) {
	for _, c := range competitionTable() {
		if c.ID == id {
			return c, true
		}
	}
	return Competition{}, false
}

// CompetitionIDs lists the competitions in the table, sorted.
func CompetitionIDs() []string {
	var ids []string
	for _, c := range competitionTable() {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}

func competitionTable() []Competition {
	auc := func(id, idCol, target string) Competition {
		return Competition{ID: id, IDColumn: idCol, Targets: []string{target}, Metric: "roc-auc", grade: aucGrader(idCol, target)}
	}
	acc := func(id, idCol, target string) Competition {
		return Competition{ID: id, IDColumn: idCol, Targets: []string{target}, Metric: "accuracy", grade: accuracyGrader(idCol, target)}
	}
	f1 := func(id, idCol, target string) Competition {
		return Competition{ID: id, IDColumn: idCol, Targets: []string{target}, Metric: "macro-f1", grade: macroF1IntGrader(idCol, target)}
	}
	tags := func(id, idCol, target string) Competition {
		return Competition{ID: id, IDColumn: idCol, Targets: []string{target}, Metric: "micro-f1 over space-separated labels", ListTargets: true, grade: microF1TagsGrader(idCol, target)}
	}
	python := func(id, idCol, target, metric string) Competition {
		return Competition{ID: id, IDColumn: idCol, Targets: []string{target}, Metric: metric, ListTargets: true,
			Notes: "graded only by the competition's own grader: pass --mlebench-python"}
	}
	return []Competition{
		python("3d-object-detection-for-autonomous-vehicles", "Id", "PredictionString", "mean average precision over 3D box IoU"),
		{ID: "AI4Code", ListTargets: true, IDColumn: "id", Targets: []string{"cell_order"}, Metric: "kendall-tau", grade: gradeAI4Code},
		auc("aerial-cactus-identification", "id", "has_cactus"),
		{ID: "alaska2-image-steganalysis", IDColumn: "Id", Targets: []string{"Label"}, Metric: "weighted roc-auc (TPR bands [0,0.4] x2, [0.4,1] x1)", grade: gradeAlaska},
		{ID: "aptos2019-blindness-detection", IDColumn: "id_code", Targets: []string{"diagnosis"}, Metric: "quadratic-weighted-kappa", grade: kappaGrader("id_code", "diagnosis")},
		{ID: "billion-word-imputation", ListTargets: true, IDColumn: "id", Targets: []string{"sentence"}, Metric: "mean levenshtein distance", LowerIsBetter: true, grade: levenshteinGrader("id", "sentence"),
			Notes: "the sample submission lies under prepared/private"},
		{ID: "bms-molecular-translation", IDColumn: "image_id", Targets: []string{"InChI"}, Metric: "mean levenshtein distance", LowerIsBetter: true, grade: levenshteinGrader("image_id", "InChI")},
		acc("cassava-leaf-disease-classification", "image_id", "label"),
		acc("cdiscount-image-classification-challenge", "_id", "category_id"),
		{ID: "chaii-hindi-and-tamil-question-answering", ListTargets: true, IDColumn: "id", Targets: []string{"PredictionString"}, Metric: "word-level jaccard", grade: gradeChaii},
		{ID: "champs-scalar-coupling", IDColumn: "id", Targets: []string{"scalar_coupling_constant"}, Metric: "mean over coupling types of log(MAE)", LowerIsBetter: true, grade: gradeChamps,
			Notes: "answers carry the coupling type"},
		{ID: "denoising-dirty-documents", IDColumn: "id", Targets: []string{"value"}, Metric: "rmse", LowerIsBetter: true, grade: regressionGrader("id", "value", rmseOf)},
		{ID: "detecting-insults-in-social-commentary", IDColumn: "Comment", Targets: []string{"Insult"}, Metric: "roc-auc", grade: aucGrader("Comment", "Insult"),
			Notes: "the id is the comment text, not the first column; the sample submission is sample_submission_null.csv"},
		{ID: "dog-breed-identification", IDColumn: "id", Metric: "multi-class log loss", LowerIsBetter: true, grade: oneHotLogLoss("id", nil, 1e-6, false),
			Notes: "rows must sum to one (atol 1e-6), values in [0, 1]"},
		{ID: "dogs-vs-cats-redux-kernels-edition", IDColumn: "id", Targets: []string{"label"}, Metric: "log loss", LowerIsBetter: true, grade: binaryLogLossGrader("id", "label")},
		tags("facebook-recruiting-iii-keyword-extraction", "Id", "Tags"),
		{ID: "freesound-audio-tagging-2019", IDColumn: "fname", Metric: "label-weighted label-ranking average precision", grade: gradeFreesound,
			Notes: "columns must be fname then the classes in the answers' order"},
		{ID: "google-quest-challenge", IDColumn: "qa_id", Metric: "mean column-wise spearman", ExactColumns: true, grade: gradeGoogleQuest,
			Notes: "rows paired after sorting by qa_id, ids not compared"},
		{ID: "google-research-identify-contrails-reduce-global-warming", ListTargets: true, IDColumn: "record_id", Targets: []string{"encoded_pixels"}, Metric: "global dice over RLE masks", grade: gradeContrails},
		{ID: "h-and-m-personalized-fashion-recommendations", ListTargets: true, IDColumn: "customer_id", Targets: []string{"prediction"}, Metric: "MAP@12", ExactColumns: true, grade: mapkGrader("customer_id", "prediction", 12, true, true),
			Notes: "the submission may hold customers beyond the answers'"},
		f1("herbarium-2020-fgvc7", "Id", "Predicted"),
		f1("herbarium-2021-fgvc8", "Id", "Predicted"),
		f1("herbarium-2022-fgvc9", "Id", "Predicted"),
		auc("histopathologic-cancer-detection", "id", "label"),
		{ID: "hms-harmful-brain-activity-classification", IDColumn: "eeg_id", Targets: hmsTargets, Metric: "kl-divergence", LowerIsBetter: true, grade: gradeHMS,
			Notes: "answers' votes are normalised per row; submission rows must sum to one"},
		{ID: "hotel-id-2021-fgvc8", ListTargets: true, IDColumn: "image", Targets: []string{"hotel_id"}, Metric: "MAP@5", grade: mapkGrader("image", "hotel_id", 5, false, false)},
		{ID: "hubmap-kidney-segmentation", ListTargets: true, IDColumn: "id", Targets: []string{"predicted"}, Metric: "mean dice over RLE masks", grade: gradeHubmap},
		{ID: "icecube-neutrinos-in-deep-ice", IDColumn: "event_id", Targets: []string{"azimuth", "zenith"}, Metric: "mean angular error", LowerIsBetter: true, ExactColumns: true, grade: gradeIceCube},
		tags("imet-2020-fgvc7", "id", "attribute_ids"),
		{ID: "inaturalist-2019-fgvc6", ListTargets: true, IDColumn: "id", Targets: []string{"predicted"}, Metric: "top-1 error (1 - accuracy)", LowerIsBetter: true, grade: gradeINaturalist,
			Notes: "only the first of space-separated predictions counts; the sample is kaggle_sample_submission.csv"},
		{ID: "iwildcam-2019-fgvc6", IDColumn: "Id", Targets: []string{"Category"}, Metric: "macro-f1", grade: macroF1IntGrader("Id", "Category"),
			Notes: "the sample submission starts with an unnamed index column, which the grader ignores"},
		acc("iwildcam-2020-fgvc7", "Id", "Category"),
		{ID: "jigsaw-toxic-comment-classification-challenge", IDColumn: "id", Targets: jigsawClasses, Metric: "mean column-wise roc-auc", grade: gradeJigsawToxic,
			Notes: "answer rows marked -1 are not scored; columns are paired by position, ids not compared"},
		{ID: "jigsaw-unintended-bias-in-toxicity-classification", IDColumn: "id", Targets: []string{"prediction"}, Metric: "bias-weighted roc-auc", grade: gradeJigsawBias},
		{ID: "kuzushiji-recognition", ListTargets: true, IDColumn: "image_id", Targets: []string{"labels"}, Metric: "f1 of character centres in boxes", grade: gradeKuzushiji},
		{ID: "leaf-classification", IDColumn: "id", Metric: "multi-class log loss", LowerIsBetter: true, ExactColumns: true, grade: gradeLeaf},
		{ID: "learning-agency-lab-automated-essay-scoring-2", IDColumn: "essay_id", Targets: []string{"score"}, Metric: "quadratic-weighted-kappa", grade: kappaGrader("essay_id", "score")},
		{ID: "lmsys-chatbot-arena", IDColumn: "id", Targets: []string{"winner_model_a", "winner_model_b", "winner_tie"}, Metric: "multi-class log loss", LowerIsBetter: true,
			grade: oneHotLogLoss("id", []string{"winner_model_a", "winner_model_b", "winner_tie"}, 0, true), Notes: "rows must sum to 1 when rounded to 6 decimals"},
		auc("mlsp-2013-birds", "Id", "Probability"),
		{ID: "multi-modal-gesture-recognition", ListTargets: true, IDColumn: "Id", Targets: []string{"Sequence"}, Metric: "levenshtein distance per gesture", LowerIsBetter: true, grade: gradeGesture,
			Notes: "the sample submission is randomPredictions.csv"},
		{ID: "new-york-city-taxi-fare-prediction", IDColumn: "key", Targets: []string{"fare_amount"}, Metric: "rmse", LowerIsBetter: true, grade: gradeTaxi,
			Notes: "rows paired after sorting by key, keys not compared"},
		{ID: "nfl-player-contact-detection", IDColumn: "contact_id", Targets: []string{"contact"}, Metric: "matthews correlation", grade: gradeNFL},
		{ID: "nomad2018-predict-transparent-conductors", IDColumn: "id", Targets: []string{"formation_energy_ev_natom", "bandgap_energy_ev"}, Metric: "mean column-wise rmsle", LowerIsBetter: true, grade: gradeNomad,
			Notes: "rows paired in file order: the grader does not sort by id"},
		{ID: "osic-pulmonary-fibrosis-progression", IDColumn: "Patient_Week", Targets: []string{"FVC", "Confidence"}, Metric: "modified laplace log likelihood", grade: gradeOSIC,
			Notes: "only each patient's last three weeks with a known FVC are scored"},
		{ID: "petfinder-pawpularity-score", IDColumn: "Id", Targets: []string{"Pawpularity"}, Metric: "rmse", LowerIsBetter: true, grade: gradePetfinder},
		{ID: "plant-pathology-2020-fgvc7", IDColumn: "image_id", Targets: []string{"healthy", "multiple_diseases", "rust", "scab"}, Metric: "mean column-wise roc-auc", ExactColumns: true, grade: gradePlant2020},
		tags("plant-pathology-2021-fgvc8", "image", "labels"),
		{ID: "predict-volcanic-eruptions-ingv-oe", IDColumn: "segment_id", Targets: []string{"time_to_eruption"}, Metric: "mae rounded to an integer", LowerIsBetter: true, grade: gradeVolcano},
		auc("random-acts-of-pizza", "request_id", "requester_received_pizza"),
		{ID: "ranzcr-clip-catheter-line-classification", IDColumn: "StudyInstanceUID", Targets: ranzcrClasses, Metric: "mean column-wise roc-auc", grade: gradeRanzcr,
			Notes: "the grader scores 9 of the 11 classes"},
		{ID: "rsna-2022-cervical-spine-fracture-detection", IDColumn: "row_id", Targets: []string{"fractured"}, Metric: "weighted multi-label log loss", LowerIsBetter: true, grade: gradeSpine},
		{ID: "rsna-breast-cancer-detection", IDColumn: "prediction_id", Targets: []string{"cancer"}, Metric: "probabilistic f1", grade: gradeBreast},
		auc("rsna-miccai-brain-tumor-radiogenomic-classification", "BraTS21ID", "MGMT_value"),
		auc("seti-breakthrough-listen", "id", "target"),
		python("siim-covid19-detection", "id", "PredictionString", "mean average precision over box IoU"),
		auc("siim-isic-melanoma-classification", "image_name", "target"),
		{ID: "smartphone-decimeter-2022", IDColumn: "tripId", Targets: []string{"UnixTimeMillis", "LatitudeDegrees", "LongitudeDegrees"}, Metric: "mean of p50 and p95 haversine error per trip", LowerIsBetter: true, grade: gradeSmartphone,
			Notes: "rows of a trip paired in file order"},
		{ID: "spooky-author-identification", IDColumn: "id", Targets: []string{"EAP", "HPL", "MWS"}, Metric: "multi-class log loss", LowerIsBetter: true, ExactColumns: true, grade: gradeSpooky},
		{ID: "stanford-covid-vaccine", IDColumn: "id_seqpos", Targets: []string{"reactivity", "deg_Mg_pH10", "deg_pH10", "deg_Mg_50C", "deg_50C"}, Metric: "MCRMSE over reactivity, deg_Mg_pH10, deg_Mg_50C where keep", LowerIsBetter: true, grade: gradeCovid,
			Notes: "config.yaml names multi-class log loss; the grader is MCRMSE with the answers' keep mask"},
		{ID: "statoil-iceberg-classifier-challenge", IDColumn: "id", Targets: []string{"is_iceberg"}, Metric: "log loss", LowerIsBetter: true, grade: binaryLogLossGrader("id", "is_iceberg"),
			Notes: "the public folder holds the sample only as sample_submission.csv.7z; checks use the config's prepared/private/sample_submission.csv"},
		acc("tabular-playground-series-dec-2021", "Id", "Cover_Type"),
		auc("tabular-playground-series-may-2022", "id", "target"),
		acc("tensorflow-speech-recognition-challenge", "fname", "label"),
		{ID: "tensorflow2-question-answering", ListTargets: true, IDColumn: "example_id", Targets: []string{"PredictionString"}, Metric: "micro-f1 of long and short answers", gradeJSONL: gradeTF2QA,
			Notes: "answers are JSONL"},
		{ID: "text-normalization-challenge-english-language", IDColumn: "id", Targets: []string{"after"}, Metric: "accuracy of text", grade: textAccuracyGrader("id", "after"),
			Notes: "compared as pandas text: NA reads as missing; the public folder holds the sample only zipped, checks use the config's prepared/private/sample_submission.csv"},
		{ID: "text-normalization-challenge-russian-language", IDColumn: "id", Targets: []string{"after"}, Metric: "accuracy of text", grade: textAccuracyGrader("id", "after"),
			Notes: "compared as pandas text: NA reads as missing; the public folder holds the sample only zipped, checks use the config's prepared/private/sample_submission.csv"},
		{ID: "tgs-salt-identification-challenge", ListTargets: true, IDColumn: "id", Targets: []string{"rle_mask"}, Metric: "mean precision over IoU thresholds", ExactColumns: true, grade: gradeSalt},
		auc("the-icml-2013-whale-challenge-right-whale-redux", "clip", "probability"),
		{ID: "tweet-sentiment-extraction", ListTargets: true, IDColumn: "textID", Targets: []string{"selected_text"}, Metric: "word-level jaccard", grade: gradeTweet},
		{ID: "us-patent-phrase-to-phrase-matching", IDColumn: "id", Targets: []string{"score"}, Metric: "pearson correlation", grade: gradePatent},
		{ID: "uw-madison-gi-tract-image-segmentation", ListTargets: true, IDColumn: "id", Targets: []string{"class", "predicted"}, Metric: "0.4 dice + 0.6 (1 - 3D hausdorff)", grade: gradeUWMadison},
		{ID: "ventilator-pressure-prediction", IDColumn: "id", Targets: []string{"pressure"}, Metric: "mae where u_out == 0", LowerIsBetter: true, grade: gradeVentilator,
			Notes: "config.yaml names dice-hausdorff-combo; the grader is MAE over the answers' rows with u_out == 0"},
		{ID: "vesuvius-challenge-ink-detection", ListTargets: true, IDColumn: "Id", Targets: []string{"Predicted"}, Metric: "mean f0.5 over RLE masks", ExactColumns: true, grade: gradeVesuvius,
			Notes: "rows paired in file order"},
		python("vinbigdata-chest-xray-abnormalities-detection", "image_id", "PredictionString", "mean average precision over box IoU > 0.4"),
		{ID: "whale-categorization-playground", ListTargets: true, IDColumn: "Image", Targets: []string{"Id"}, Metric: "MAP@5", ExactColumns: true, grade: mapkGrader("Image", "Id", 5, false, true)},
	}
}

var (
	hmsTargets    = []string{"seizure_vote", "lpd_vote", "gpd_vote", "lrda_vote", "grda_vote", "other_vote"}
	jigsawClasses = []string{"toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"}
	ranzcrClasses = []string{"ETT - Abnormal", "ETT - Borderline", "ETT - Normal", "NGT - Abnormal", "NGT - Borderline",
		"NGT - Incompletely Imaged", "NGT - Normal", "CVC - Abnormal", "CVC - Borderline"}
)

func kappaGrader(id, target string) gradeFunc {
	return func(sub, ans *frame) (float64, error) {
		if err := needBoth(sub, ans, id, target); err != nil {
			return 0, err
		}
		order, err := align(sub, ans, id)
		if err != nil {
			return 0, err
		}
		c := Column{Name: target, Truth: ans.text(target), Pred: pick(sub.text(target), order)}
		v, err := quadraticWeightedKappa([]Column{c})
		if err != nil {
			return 0, invalid("%v", err)
		}
		return v, nil
	}
}

func gradeAI4Code(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "id", "cell_order"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	s, a := pick(sub.strs("cell_order"), order), ans.strs("cell_order")
	var inv, max2 int
	for i := range a {
		gt, pred := strings.Fields(s[i]), strings.Fields(a[i])
		if len(gt) != len(pred) {
			return 0, invalid("row for id %q orders %d cells, the answer %d: order every cell once", ans.text("id")[i], len(gt), len(pred))
		}
		pos := map[string]int{}
		for j := len(gt) - 1; j >= 0; j-- {
			pos[gt[j]] = j
		}
		r := make([]int, len(pred))
		for j, x := range pred {
			p, ok := pos[x]
			if !ok {
				return 0, invalid("row for id %q lacks cell %q: order the notebook's own cells", ans.text("id")[i], x)
			}
			r[j] = p
		}
		inv += kendallInversions(r)
		max2 += len(gt) * (len(gt) - 1)
	}
	return 1 - 4*float64(inv)/float64(max2), nil
}

func gradeAlaska(sub, ans *frame) (float64, error) {
	order, err := align(sub, ans, "Id")
	if err != nil {
		return 0, err
	}
	if err := needBoth(sub, ans, "Label"); err != nil {
		return 0, err
	}
	truth, pred, err := alignedNums(sub, ans, "Label", order)
	if err != nil {
		return 0, err
	}
	v, err := alaskaWeightedAUC(truth, pred)
	if err != nil {
		return 0, ans.fault("%v", err)
	}
	return v, nil
}

func gradeChaii(sub, ans *frame) (float64, error) {
	const col = "PredictionString"
	if err := needBoth(sub, ans, "id", col); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	t, p := ans.strsFill(col), pick(sub.strsFill(col), order)
	var s float64
	for i := range t {
		v, _ := jaccardWords(wordSet(t[i]), wordSet(p[i]), false)
		s += v
	}
	return s / float64(len(t)), nil
}

func gradeChamps(sub, ans *frame) (float64, error) {
	const col = "scalar_coupling_constant"
	if err := ans.need("id", "type", col); err != nil {
		return 0, err
	}
	if err := sub.need("id", col); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	truth, pred, err := alignedNums(sub, ans, col, order)
	if err != nil {
		return 0, err
	}
	types := ans.text("type")
	byType := map[string][2][]float64{}
	for i, ty := range types {
		g := byType[ty]
		g[0], g[1] = append(g[0], truth[i]), append(g[1], pred[i])
		byType[ty] = g
	}
	var s float64
	for _, g := range byType {
		m, _ := mae(g[0], g[1])
		s += math.Log(m)
	}
	return s / float64(len(byType)), nil
}

func gradeFreesound(sub, ans *frame) (float64, error) {
	if len(ans.header) == 0 || ans.header[0] != "fname" {
		return 0, ans.fault("the first column must be fname")
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	if len(sub.header) == 0 || sub.header[0] != "fname" {
		return 0, invalid("the first column must be fname, it is %q", strings.Join(sub.header[:min(1, len(sub.header))], ""))
	}
	classes := ans.header[1:]
	if strings.Join(sub.header[1:], "\x00") != strings.Join(classes, "\x00") {
		return 0, invalid("the class columns must be exactly the sample submission's, in its order")
	}
	order, err := align(sub, ans, "fname")
	if err != nil {
		return 0, err
	}
	truth, err := ans.matrix(classes, nil)
	if err != nil {
		return 0, err
	}
	pred, err := sub.matrix(classes, order)
	if err != nil {
		return 0, err
	}
	return lwlrap(truth, pred), nil
}

func gradeGoogleQuest(sub, ans *frame) (float64, error) {
	var classes []string
	for _, h := range ans.header {
		if h != "qa_id" {
			classes = append(classes, h)
		}
	}
	if err := needBoth(sub, ans, append([]string{"qa_id"}, classes...)...); err != nil {
		return 0, err
	}
	if len(sub.header) != len(classes)+1 {
		return 0, invalid("the submission has %d target columns, expected %d", len(sub.header)-1, len(classes))
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	so, ao := sub.sortedOrder("qa_id"), ans.sortedOrder("qa_id")
	var s float64
	for _, c := range classes {
		t, err := ans.nums(c)
		if err != nil {
			return 0, err
		}
		p, err := sub.nums(c)
		if err != nil {
			return 0, err
		}
		r := spearman(pick(p, so), pick(t, ao))
		if math.IsNaN(r) {
			return 0, invalid("column %q: the spearman correlation is undefined (a constant column)", c)
		}
		s += r
	}
	return s / float64(len(classes)), nil
}

func gradeContrails(sub, ans *frame) (float64, error) {
	if err := ans.need("record_id", "encoded_pixels", "height", "width"); err != nil {
		return 0, err
	}
	if err := sub.need("record_id", "encoded_pixels"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "record_id")
	if err != nil {
		return 0, err
	}
	h, err := ans.ints("height")
	if err != nil {
		return 0, err
	}
	w, err := ans.ints("width")
	if err != nil {
		return 0, err
	}
	trle, prle := ans.strsFill("encoded_pixels"), pick(sub.strsFill("encoded_pixels"), order)
	var all, allP []bool
	for i := range trle {
		size := int(h[i] * w[i])
		tm, err := rleMask(dash(trle[i]), size)
		if err != nil {
			return 0, ans.fault("row %d: %v", i+1, err)
		}
		pm, err := rleMask(dash(prle[i]), size)
		if err != nil {
			return 0, invalid("record %q: %v", ans.text("record_id")[i], err)
		}
		all, allP = append(all, tm...), append(allP, pm...)
	}
	v := dice(all, allP, math.NaN())
	if math.IsNaN(v) {
		return 0, invalid("no contrail pixel in the answers nor the submission: the global dice is undefined")
	}
	return v, nil
}

// dash is the contrails grader's replace("-", ""): a lone "-" means empty.
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

func gradeHMS(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, append([]string{"eeg_id"}, hmsTargets...)...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	p, err := sub.matrix(hmsTargets, nil)
	if err != nil {
		return 0, err
	}
	for i, row := range p {
		var s float64
		for _, v := range row {
			s += v
		}
		if round5(s) != 1 {
			return 0, invalid("row %d's votes sum to %v: probabilities must add to 1 in each row", i+1, s)
		}
	}
	if err := sameIDSet(sub, ans, "eeg_id"); err != nil {
		return 0, err
	}
	// The KL score checks every submission column but the id as
	// probabilities, extra columns included.
	var rest []string
	for _, h := range sub.header {
		if h != "eeg_id" {
			rest = append(rest, h)
		}
	}
	all, err := sub.matrix(rest, nil)
	if err != nil {
		return 0, err
	}
	for i, row := range all {
		var s float64
		for j, v := range row {
			if v < 0 || v > 1 {
				return 0, invalid("column %q, row %d holds %v: values must lie in [0, 1]", rest[j], i+1, v)
			}
			s += v
		}
		if math.Abs(s-1) > 1e-8+1e-5 {
			return 0, invalid("row %d: the submission's columns other than eeg_id sum to %v, not 1", i+1, s)
		}
	}
	order, err := align(sub, ans, "eeg_id")
	if err != nil {
		return 0, err
	}
	truth, err := ans.matrix(hmsTargets, nil)
	if err != nil {
		return 0, err
	}
	const eps = 1e-15
	var total float64
	for i, row := range truth {
		var s float64
		for _, v := range row {
			s += v
		}
		if s == 0 {
			return 0, ans.fault("row %d has no votes", i+1)
		}
		for j, y := range row {
			y /= s
			if y != 0 {
				q := math.Min(math.Max(p[order[i]][j], eps), 1-eps)
				total += y * math.Log(y/q)
			}
		}
	}
	return total / float64(len(truth)), nil
}

func gradeHubmap(sub, ans *frame) (float64, error) {
	if err := ans.need("id", "encoding", "width_pixels", "height_pixels"); err != nil {
		return 0, err
	}
	if err := sub.need("id", "predicted"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	h, err := ans.ints("height_pixels")
	if err != nil {
		return 0, err
	}
	w, err := ans.ints("width_pixels")
	if err != nil {
		return 0, err
	}
	t, p := ans.strsFill("encoding"), pick(sub.strsFill("predicted"), order)
	var s float64
	for i := range t {
		size := int(h[i] * w[i])
		pm, err := rleMask(p[i], size)
		if err != nil {
			return 0, invalid("id %q: %v", ans.text("id")[i], err)
		}
		tm, err := rleMask(t[i], size)
		if err != nil {
			return 0, ans.fault("row %d: %v", i+1, err)
		}
		s += dice(pm, tm, 1)
	}
	return s / float64(len(t)), nil
}

func gradeIceCube(sub, ans *frame) (float64, error) {
	cols := []string{"event_id", "azimuth", "zenith"}
	if err := needBoth(sub, ans, cols...); err != nil {
		return 0, err
	}
	if len(sub.header) != len(cols) {
		return 0, invalid("the submission has columns %s: it must have exactly event_id, azimuth and zenith", quoteAll(sub.header))
	}
	order, err := align(sub, ans, "event_id")
	if err != nil {
		return 0, err
	}
	az, pa, err := alignedNums(sub, ans, "azimuth", order)
	if err != nil {
		return 0, err
	}
	ze, pz, err := alignedNums(sub, ans, "zenith", order)
	if err != nil {
		return 0, err
	}
	var s float64
	for i := range az {
		s += angularError(az[i], ze[i], pa[i], pz[i])
	}
	return s / float64(len(az)), nil
}

func gradeINaturalist(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "id", "predicted"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	t, err := ans.ints("predicted")
	if err != nil {
		return 0, err
	}
	raw := sub.text("predicted")
	kind := columnKind(raw)
	p := make([]int64, len(raw))
	for i, s := range raw {
		if kind == kindInt {
			p[i], _ = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			continue
		}
		f := strings.Fields(s)
		if kind != kindText || len(f) == 0 {
			return 0, invalid("line %d: %q is not a class id or a space-separated list of class ids", sub.lines[i], s)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, invalid("line %d: %q does not start with an integer class id", sub.lines[i], s)
		}
		p[i] = n
	}
	p = pick(p, order)
	var same int
	for i := range t {
		if t[i] == p[i] {
			same++
		}
	}
	return 1 - float64(same)/float64(len(t)), nil
}

func gradeJigsawToxic(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, append([]string{"id"}, jigsawClasses...)...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	// The grader sets the id as index, sorts both by it and pairs every
	// remaining column by position.
	var sc, ac []string
	for _, h := range sub.header {
		if h != "id" {
			sc = append(sc, h)
		}
	}
	for _, h := range ans.header {
		if h != "id" {
			ac = append(ac, h)
		}
	}
	if len(sc) != len(ac) {
		return 0, invalid("the submission has %d columns besides id, the answers %d: write exactly %s", len(sc), len(ac), quoteAll(ac))
	}
	so, ao := sub.sortedOrder("id"), ans.sortedOrder("id")
	truth, err := ans.matrix(ac, ao)
	if err != nil {
		return 0, err
	}
	pred, err := sub.matrix(sc, so)
	if err != nil {
		return 0, err
	}
	classIdx := map[string]int{}
	for j, c := range ac {
		classIdx[c] = j
	}
	var t, p [][]float64
	for i := range truth {
		var s float64
		for _, c := range jigsawClasses {
			s += truth[i][classIdx[c]]
		}
		if s >= 0 {
			t, p = append(t, truth[i]), append(p, pred[i])
		}
	}
	if len(t) == 0 {
		return 0, ans.fault("every answer row is marked -1 (unscored)")
	}
	return meanColumnsAUC(t, p, ac, ans)
}

func gradeJigsawBias(sub, ans *frame) (float64, error) {
	identities := []string{"male", "female", "homosexual_gay_or_lesbian", "christian", "jewish", "muslim", "black", "white", "psychiatric_or_mental_illness"}
	if err := sub.need("id"); err != nil {
		return 0, err
	}
	predCol := "prediction"
	if !sub.has(predCol) {
		if !sub.has("toxicity") {
			return 0, invalid("the submission must have a %q column", predCol)
		}
		predCol = "toxicity"
	}
	if err := ans.need(append([]string{"id", "toxicity"}, identities...)...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	p, err := sub.nums(predCol)
	if err != nil {
		return 0, err
	}
	p = pick(p, order)
	t, err := ans.nums("toxicity")
	if err != nil {
		return 0, err
	}
	bin := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			if x >= 0.5 {
				out[i] = 1
			}
		}
		return out
	}
	pb, tb := bin(p), bin(t)
	auc := func(keep func(i int) bool) (float64, error) {
		var tt, pp []float64
		for i := range tb {
			if keep(i) {
				tt, pp = append(tt, tb[i]), append(pp, pb[i])
			}
		}
		if len(tt) == 0 {
			return 0, ans.fault("a subgroup has no rows")
		}
		v, err := rocAUC(tt, pp)
		if err != nil {
			return 0, ans.fault("%v", err)
		}
		return v, nil
	}
	overall, err := auc(func(int) bool { return true })
	if err != nil {
		return 0, err
	}
	var sums [3]float64
	for _, col := range identities {
		g, err := ans.nums(col)
		if err != nil {
			return 0, err
		}
		in := bin(g)
		filters := [3]func(i int) bool{
			func(i int) bool { return in[i] == 1 },
			func(i int) bool { return (tb[i] == 0 && in[i] == 1) || (tb[i] == 1 && in[i] != 1) },
			func(i int) bool { return (tb[i] == 1 && in[i] == 1) || (tb[i] == 0 && in[i] != 1) },
		}
		for k, f := range filters {
			v, err := auc(f)
			if err != nil {
				return 0, err
			}
			sums[k] += math.Pow(v, -5)
		}
	}
	score := 0.25 * overall
	for _, s := range sums {
		score += 0.25 * math.Pow(s/float64(len(identities)), -1.0/5)
	}
	return score, nil
}

func gradeKuzushiji(sub, ans *frame) (float64, error) {
	if err := ans.need("image_id", "labels"); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	if err := sub.need("image_id", "labels"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "image_id")
	if err != nil {
		return 0, err
	}
	praw, traw := pick(sub.text("labels"), order), ans.text("labels")
	var tp, fp, fn int
	for i := range traw {
		pNA, tNA := isNA(strings.TrimSpace(praw[i])), isNA(strings.TrimSpace(traw[i]))
		var preds []string
		if !pNA {
			preds = strings.Split(praw[i], " ")
			if len(preds)%3 != 0 {
				return 0, invalid("malformed prediction string %q: write label X Y triples", praw[i])
			}
			for j := 0; j < len(preds); j += 3 {
				for _, s := range preds[j+1 : j+3] {
					if _, err := strconv.ParseFloat(s, 64); err != nil {
						return 0, invalid("X and Y must be numbers in %q", praw[i])
					}
				}
			}
		}
		switch {
		case tNA && pNA:
			continue
		case tNA:
			fp += len(preds) / 3
			continue
		case pNA:
			fn += len(strings.Split(traw[i], " ")) / 5
			continue
		}
		truth := strings.Split(traw[i], " ")
		if len(truth)%5 != 0 {
			return 0, ans.fault("malformed solution string on row %d", i+1)
		}
		tv := make([]float64, len(truth))
		for j, s := range truth {
			if j%5 != 0 {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return 0, ans.fault("row %d: %q is not a number", i+1, s)
				}
				tv[j] = v
			}
		}
		px := make([]float64, len(preds)/3)
		py := make([]float64, len(preds)/3)
		used := make([]bool, len(preds)/3)
		for j := range px {
			px[j], _ = strconv.ParseFloat(preds[3*j+1], 64)
			py[j], _ = strconv.ParseFloat(preds[3*j+2], 64)
		}
		for b := 0; b < len(truth); b += 5 {
			xmin, ymin := tv[b+1], tv[b+2]
			xmax, ymax := xmin+tv[b+3], ymin+tv[b+4]
			hit := false
			for j := range px {
				if !used[j] && xmin < px[j] && xmax > px[j] && ymin < py[j] && ymax > py[j] && preds[3*j] == truth[b] {
					used[j], hit = true, true
					break
				}
			}
			if hit {
				tp++
			} else {
				fn++
			}
		}
		for _, u := range used {
			if !u {
				fp++
			}
		}
	}
	if tp+fp == 0 || tp+fn == 0 {
		return 0, nil
	}
	prec, rec := float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
	if prec > 0 && rec > 0 {
		return 2 * prec * rec / (prec + rec), nil
	}
	return 0, nil
}

func gradeGesture(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "Id", "Sequence"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "Id")
	if err != nil {
		return 0, err
	}
	parse := func(f *frame, s string) ([]int, error) {
		var out []int
		for _, x := range strings.Fields(s) {
			n, err := strconv.Atoi(x)
			if err != nil {
				return nil, f.fault("%q is not a space-separated list of gesture numbers", s)
			}
			out = append(out, n)
		}
		return out, nil
	}
	t, p := ans.strs("Sequence"), pick(sub.strs("Sequence"), order)
	var dist, total int
	for i := range t {
		a, err := parse(ans, t[i])
		if err != nil {
			return 0, err
		}
		b, err := parse(sub, p[i])
		if err != nil {
			return 0, err
		}
		dist += levenshtein(a, b)
		total += len(a)
	}
	if total == 0 {
		return 0, ans.fault("no gesture in the answers")
	}
	return float64(dist) / float64(total), nil
}

func gradeTaxi(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "key", "fare_amount"); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	t, err := ans.nums("fare_amount")
	if err != nil {
		return 0, err
	}
	p, err := sub.nums("fare_amount")
	if err != nil {
		return 0, err
	}
	return rmse(pick(t, ans.sortedOrder("key")), pick(p, sub.sortedOrder("key")))
}

func gradeNFL(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "contact_id", "contact"); err != nil {
		return 0, err
	}
	if err := sameIDSet(sub, ans, "contact_id"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "contact_id")
	if err != nil {
		return 0, err
	}
	t, p := ans.labels("contact"), pick(sub.labels("contact"), order)
	if t[0].isText != p[0].isText {
		return 0, invalid("contact must hold labels of the answers' kind (0 or 1)")
	}
	return mcc(t, p), nil
}

func gradeNomad(sub, ans *frame) (float64, error) {
	cols := []string{"formation_energy_ev_natom", "bandgap_energy_ev"}
	if err := needBoth(sub, ans, cols...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	var s float64
	for _, c := range cols {
		t, err := ans.nums(c)
		if err != nil {
			return 0, err
		}
		p, err := sub.nums(c)
		if err != nil {
			return 0, err
		}
		for _, v := range t {
			if v < 0 {
				return 0, ans.fault("column %q holds %v: RMSLE needs values >= 0", c, v)
			}
		}
		v, err := rmsleChecked(t, p)
		if err != nil {
			return 0, err
		}
		s += v
	}
	return s / 2, nil
}

func gradeOSIC(sub, ans *frame) (float64, error) {
	if err := ans.need("Patient_Week", "FVC", "Patient"); err != nil {
		return 0, err
	}
	if err := sub.need("Patient_Week", "FVC", "Confidence"); err != nil {
		return 0, err
	}
	allPW := map[string]bool{}
	for _, k := range ans.text("Patient_Week") {
		allPW[k] = true
	}
	for _, k := range sub.text("Patient_Week") {
		if !allPW[k] {
			return 0, invalid("Patient_Week %q is not a test Patient_Week", k)
		}
	}
	fvc, err := sub.numsNaN("FVC")
	if err != nil {
		return 0, err
	}
	conf, err := sub.numsNaN("Confidence")
	if err != nil {
		return 0, err
	}
	tf, err := ans.numsNaN("FVC")
	if err != nil {
		return 0, err
	}
	// The answers' last three weeks with a known FVC, per patient.
	type row struct {
		pw   string
		week int
		fvc  float64
	}
	byPatient := map[string][]row{}
	pws, patients := ans.text("Patient_Week"), ans.text("Patient")
	for i := range pws {
		if math.IsNaN(tf[i]) {
			continue
		}
		parts := strings.Split(pws[i], "_")
		w, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			return 0, ans.fault("Patient_Week %q does not end in a week number", pws[i])
		}
		byPatient[patients[i]] = append(byPatient[patients[i]], row{pws[i], w, tf[i]})
	}
	scored := map[string]float64{}
	for _, rows := range byPatient {
		sort.SliceStable(rows, func(a, b int) bool { return rows[a].week < rows[b].week })
		if len(rows) > 3 {
			rows = rows[len(rows)-3:]
		}
		for _, r := range rows {
			scored[r.pw] = r.fvc
		}
	}
	var n int
	var total float64
	seen := map[string]bool{}
	subPW := sub.text("Patient_Week")
	for i, k := range subPW {
		t, ok := scored[k]
		if !ok {
			continue
		}
		if seen[k] {
			return 0, invalid("Patient_Week %q is written twice", k)
		}
		seen[k] = true
		c := conf[i]
		if math.IsNaN(c) {
			c = 0
		}
		sd := math.Max(c, 70)
		d := math.Min(math.Abs(t-fvc[i]), 1000)
		total += -math.Sqrt2*d/sd - math.Log(math.Sqrt2*sd)
		n++
	}
	if n != len(scored) {
		return 0, invalid("the submission predicts %d of the %d scored Patient_Weeks: predict every Patient_Week of the sample submission", n, len(scored))
	}
	return total / float64(n), nil
}

func gradePetfinder(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "Id", "Pawpularity"); err != nil {
		return 0, err
	}
	p, err := sub.nums("Pawpularity")
	if err != nil {
		return 0, err
	}
	if err := inRange("Pawpularity", p, 1, 100); err != nil {
		return 0, err
	}
	return regressionGrader("Id", "Pawpularity", rmseOf)(sub, ans)
}

func gradePlant2020(sub, ans *frame) (float64, error) {
	classes := []string{"healthy", "multiple_diseases", "rust", "scab"}
	if err := needBoth(sub, ans, append([]string{"image_id"}, classes...)...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	if len(sub.header) != 5 {
		return 0, invalid("the submission has columns %s: it must have exactly image_id, %s", quoteAll(sub.header), strings.Join(classes, ", "))
	}
	order, err := align(sub, ans, "image_id")
	if err != nil {
		return 0, err
	}
	truth, err := ans.matrix(classes, nil)
	if err != nil {
		return 0, err
	}
	pred, err := sub.matrix(classes, order)
	if err != nil {
		return 0, err
	}
	return meanColumnsAUC(truth, pred, classes, ans)
}

func gradeVolcano(sub, ans *frame) (float64, error) {
	const col = "time_to_eruption"
	if err := needBoth(sub, ans, "segment_id", col); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "segment_id")
	if err != nil {
		return 0, err
	}
	t, p, err := alignedNums(sub, ans, col, order)
	if err != nil {
		return 0, err
	}
	m, _ := mae(t, p)
	return pythonRound(m), nil
}

func gradeRanzcr(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, append([]string{"StudyInstanceUID"}, ranzcrClasses...)...); err != nil {
		return 0, err
	}
	var s float64
	for _, c := range ranzcrClasses {
		v, err := aucGrader("StudyInstanceUID", c)(sub, ans)
		if err != nil {
			return 0, err
		}
		s += v
	}
	return s / float64(len(ranzcrClasses)), nil
}

func gradeSpine(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "row_id", "fractured"); err != nil {
		return 0, err
	}
	p, err := sub.nums("fractured")
	if err != nil {
		return 0, err
	}
	if err := inRange("fractured", p, 0, 1); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "row_id")
	if err != nil {
		return 0, err
	}
	t, err := ans.nums("fractured")
	if err != nil {
		return 0, err
	}
	p = pick(p, order)
	parts := []string{"patient_overall", "C1", "C2", "C3", "C4", "C5", "C6", "C7"}
	partIdx := map[string]int{}
	for j, c := range parts {
		partIdx[c] = j
	}
	type study struct{ t, p [8]float64 }
	studies := map[string]*study{}
	seen := map[string]int{}
	for i, id := range ans.text("row_id") {
		uid, part, ok := strings.Cut(id, "_")
		j, known := partIdx[part]
		if !ok || !known {
			return 0, ans.fault("row_id %q is not <StudyInstanceUID>_<patient_overall|C1..C7>", id)
		}
		if t[i] != 0 && t[i] != 1 {
			return 0, ans.fault("fractured must be 0 or 1, row %d holds %v", i+1, t[i])
		}
		s := studies[uid]
		if s == nil {
			s = &study{}
			studies[uid] = s
		}
		s.t[j], s.p[j] = t[i], p[i]
		seen[uid]++
	}
	const eps = 1e-15
	var total float64
	for uid, s := range studies {
		if seen[uid] != 8 {
			return 0, ans.fault("study %q has %d of its 8 rows", uid, seen[uid])
		}
		var loss, wsum float64
		for j := range parts {
			wNeg, wPos := 1.0, 2.0
			if j == 0 {
				wNeg, wPos = 7, 14
			}
			w := s.t[j]*wPos + (1-s.t[j])*wNeg
			q := math.Min(math.Max(s.p[j], eps), 1-eps)
			loss += w * -(s.t[j]*math.Log(q) + (1-s.t[j])*math.Log(1-q))
			wsum += w
		}
		total += loss / wsum
	}
	return total / float64(len(studies)), nil
}

func gradeBreast(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "prediction_id", "cancer"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "prediction_id")
	if err != nil {
		return 0, err
	}
	t, p, err := alignedNums(sub, ans, "cancer", order)
	if err != nil {
		return 0, err
	}
	v, err := pfbeta(t, p, 1)
	var se *SubmissionError
	if err != nil && !errors.As(err, &se) {
		return 0, ans.fault("%v", err)
	}
	return v, err
}

func gradeSmartphone(sub, ans *frame) (float64, error) {
	cols := []string{"tripId", "UnixTimeMillis", "LatitudeDegrees", "LongitudeDegrees"}
	if err := needBoth(sub, ans, cols...); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	tLat, err := ans.nums("LatitudeDegrees")
	if err != nil {
		return 0, err
	}
	tLng, err := ans.nums("LongitudeDegrees")
	if err != nil {
		return 0, err
	}
	pLat, err := sub.nums("LatitudeDegrees")
	if err != nil {
		return 0, err
	}
	pLng, err := sub.nums("LongitudeDegrees")
	if err != nil {
		return 0, err
	}
	aTrip, sTrip := ans.text("tripId"), sub.text("tripId")
	var total float64
	trips := uniqueInOrder(aTrip)
	for _, trip := range trips {
		var ar, sr []int
		for i, v := range aTrip {
			if v == trip {
				ar = append(ar, i)
			}
		}
		for i, v := range sTrip {
			if v == trip {
				sr = append(sr, i)
			}
		}
		if len(ar) != len(sr) {
			return 0, invalid("trip %q has %d rows in the submission and %d in the answers", trip, len(sr), len(ar))
		}
		d := make([]float64, len(ar))
		for k := range ar {
			d[k] = haversine(pLat[sr[k]], pLng[sr[k]], tLat[ar[k]], tLng[ar[k]])
		}
		total += (quantile(d, 0.5) + quantile(d, 0.95)) / 2
	}
	return total / float64(len(trips)), nil
}

func gradeLeaf(sub, ans *frame) (float64, error) {
	if len(sub.header) != len(ans.header) {
		return 0, invalid("the submission has columns %s: it must have exactly id and one column per class, as the sample submission", quoteAll(sub.header))
	}
	return oneHotLogLoss("id", nil, 1e-6, false)(sub, ans)
}

func gradeSpooky(sub, ans *frame) (float64, error) {
	classes := []string{"EAP", "HPL", "MWS"}
	if sub.n() != ans.n() || len(sub.header) != len(classes)+1 {
		return 0, invalid("the submission is %d rows x %d columns, expected %d x %d (id, EAP, HPL, MWS)", sub.n(), len(sub.header), ans.n(), len(classes)+1)
	}
	if sub.header[0] != "id" {
		return 0, invalid("the first column is %q: the grader sums every column after the first, so id must come first", sub.header[0])
	}
	return oneHotLogLoss("id", classes, 1e-6, false)(sub, ans)
}

func gradeCovid(sub, ans *frame) (float64, error) {
	scored := []string{"reactivity", "deg_Mg_pH10", "deg_Mg_50C"}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	if err := ans.need(append([]string{"id_seqpos", "keep"}, scored...)...); err != nil {
		return 0, err
	}
	if err := sub.need("id_seqpos", "reactivity", "deg_Mg_pH10", "deg_Mg_50C", "deg_pH10", "deg_50C"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id_seqpos")
	if err != nil {
		return 0, err
	}
	var keep []bool
	for i, k := range ans.text("keep") {
		switch strings.TrimSpace(k) {
		case "True", "true", "TRUE", "1":
			keep = append(keep, true)
		case "False", "false", "FALSE", "0":
			keep = append(keep, false)
		default:
			return 0, ans.fault("keep on line %d is %q, not True or False", ans.lines[i], k)
		}
	}
	var s float64
	for _, c := range scored {
		t, p, err := alignedNums(sub, ans, c, order)
		if err != nil {
			return 0, err
		}
		var tt, pp []float64
		for i := range t {
			if keep[i] {
				tt, pp = append(tt, t[i]), append(pp, p[i])
			}
		}
		if len(tt) == 0 {
			return 0, ans.fault("no row is kept for scoring")
		}
		v, _ := rmse(tt, pp)
		s += v
	}
	return s / float64(len(scored)), nil
}

// gradeTF2QA grades against the JSONL answers: each example's long and
// short answer count as one binary decision each (answered or not, right or
// not), scored with micro F1.
func gradeTF2QA(sub *frame, answers []map[string]any) (float64, error) {
	if sub.n() != 2*len(answers) {
		return 0, invalid("the submission has %d rows, expected %d (a _long and a _short row per example)", sub.n(), 2*len(answers))
	}
	if err := sub.need("example_id", "PredictionString"); err != nil {
		return 0, err
	}
	type annotation struct {
		long  [][2]int64
		short [][2]int64
		yesNo string
	}
	byID := map[string]annotation{}
	for i, a := range answers {
		id := jsonText(a["example_id"])
		anns, _ := a["annotations"].([]any)
		if id == "" || len(anns) == 0 {
			return 0, fmt.Errorf("%w: answers line %d lacks example_id or annotations", ErrInvalidTask, i+1)
		}
		first, _ := anns[0].(map[string]any)
		var an annotation
		if la, ok := first["long_answer"].(map[string]any); ok {
			st, en := jsonInt(la["start_token"]), jsonInt(la["end_token"])
			if st != -1 {
				an.long = append(an.long, [2]int64{st, en})
			}
		}
		if sa, ok := first["short_answers"].([]any); ok {
			for _, x := range sa {
				m, _ := x.(map[string]any)
				an.short = append(an.short, [2]int64{jsonInt(m["start_token"]), jsonInt(m["end_token"])})
			}
		}
		an.yesNo, _ = first["yes_no_answer"].(string)
		byID[id] = an
	}
	ids, preds := sub.strsFill("example_id"), sub.strsFill("PredictionString")
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return 0, invalid("example_id %q is written twice", id)
		}
		seen[id] = true
		base, kind := splitQAID(id)
		if _, ok := byID[base]; !ok || kind == "" {
			return 0, invalid("example_id %q is not <test example id>_long or _short", id)
		}
	}
	truth := make([]int, len(ids))
	pred := make([]int, len(ids))
	for i, id := range ids {
		p := strings.TrimSpace(preds[i])
		var span [2]int64
		isSpan := false
		if a, b, ok := strings.Cut(p, ":"); ok && !strings.Contains(b, ":") {
			x, err1 := strconv.ParseInt(a, 10, 64)
			y, err2 := strconv.ParseInt(b, 10, 64)
			if err1 != nil || err2 != nil {
				return 0, invalid("example_id %q: %q is not start:end token numbers", id, p)
			}
			span, isSpan = [2]int64{x, y}, true
		} else if p != "YES" && p != "NO" && p != "" {
			return 0, invalid("example_id %q: %q is not start:end, YES, NO or empty", id, p)
		}
		base, kind := splitQAID(id)
		an := byID[base]
		var spans [][2]int64
		var yesNo string
		if kind == "long" {
			spans = an.long
		} else {
			spans = an.short
			if an.yesNo != "NONE" {
				yesNo = an.yesNo
			}
		}
		hasAnswer := len(spans) > 0 || yesNo != ""
		if p != "" {
			pred[i] = 1
			match := false
			if isSpan {
				for _, s := range spans {
					match = match || s == span
				}
			} else {
				match = yesNo != "" && p == yesNo
			}
			if match {
				truth[i] = 1
			}
		} else if hasAnswer {
			truth[i] = 1
		}
	}
	return binaryMicroF1(truth, pred), nil
}

func splitQAID(id string) (base, kind string) {
	switch {
	case strings.HasSuffix(id, "_long"):
		return strings.TrimSuffix(id, "_long"), "long"
	case strings.HasSuffix(id, "_short"):
		return strings.TrimSuffix(id, "_short"), "short"
	}
	return id, ""
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return ""
}

func jsonInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}

// gradeUWMadison is 0.4 x the mean dice of each row's mask plus 0.6 x
// (1 - the mean 3D Hausdorff distance of each case-day's stacked slices).
// Rows are paired in file order, as the grader pairs them.
func gradeUWMadison(sub, ans *frame) (float64, error) {
	if err := ans.need("id", "predicted", "image_height", "image_width"); err != nil {
		return 0, err
	}
	if err := sub.need("id", "class", "predicted"); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d: keep the sample submission's rows and order", sub.n(), ans.n())
	}
	h, err := ans.ints("image_height")
	if err != nil {
		return 0, err
	}
	w, err := ans.ints("image_width")
	if err != nil {
		return 0, err
	}
	sp, ap := sub.strsFill("predicted"), ans.strsFill("predicted")
	sm := make([][]bool, len(sp))
	am := make([][]bool, len(ap))
	var diceSum float64
	var diceN int
	for i := range ap {
		size := int(h[i] * w[i])
		if sm[i], err = rleMask(sp[i], size); err != nil {
			return 0, invalid("row %d: %v", i+1, err)
		}
		if am[i], err = rleMask(ap[i], size); err != nil {
			return 0, ans.fault("row %d: %v", i+1, err)
		}
		if d := dice(sm[i], am[i], math.NaN()); !math.IsNaN(d) {
			diceSum += d
			diceN++
		}
	}
	sDays := stackByDay(sm, sub.text("id"), h, w)
	aDays := stackByDay(am, ans.text("id"), h, w)
	var hdSum float64
	var hdN int
	for k := 0; k < min(len(sDays), len(aDays)); k++ {
		if d := hausdorff3D(sDays[k], aDays[k]); !math.IsNaN(d) {
			hdSum += d
			hdN++
		}
	}
	if diceN == 0 || hdN == 0 {
		return 0, invalid("every mask is empty in both the answers and the submission: the score is undefined")
	}
	return 0.4*diceSum/float64(diceN) + 0.6*(1-hdSum/float64(hdN)), nil
}

// volume is a case-day's slices stacked: depth x height x width voxels.
type volume struct {
	d, h, w int
	on      [][3]int // voxel coordinates set
	set     map[[3]int]bool
}

// stackByDay ORs the masks of each slice id and stacks the slices of each
// case-day in sorted slice order, case-days in sorted order.
func stackByDay(masks [][]bool, ids []string, h, w []int64) []*volume {
	o := sortedBy(ids)
	var slices []string
	bySlice := map[string][]bool{}
	dims := map[string][2]int{}
	for _, i := range o {
		id := ids[i]
		m, ok := bySlice[id]
		if !ok {
			slices = append(slices, id)
			m = make([]bool, len(masks[i]))
			bySlice[id] = m
			dims[id] = [2]int{int(h[i]), int(w[i])}
		}
		for p, v := range masks[i] {
			if v && p < len(m) {
				m[p] = true
			}
		}
	}
	var days []string
	byDay := map[string]*volume{}
	for _, id := range slices {
		day, _, _ := strings.Cut(id, "_slice_")
		v := byDay[day]
		if v == nil {
			v = &volume{h: dims[id][0], w: dims[id][1], set: map[[3]int]bool{}}
			byDay[day] = v
			days = append(days, day)
		}
		for p, on := range bySlice[id] {
			if on {
				// rle_decode fills column-major: pixel p is row p%h, column p/h.
				c := [3]int{v.d, p % v.h, p / v.h}
				v.on = append(v.on, c)
				v.set[c] = true
			}
		}
		v.d++
	}
	out := make([]*volume, len(days))
	for i, d := range days {
		out[i] = byDay[d]
	}
	return out
}

// hausdorff3D follows the grader: NaN when both are empty, 0 when equal, 1
// when one is empty or the prediction is over ten times the truth, else the
// symmetric Hausdorff distance of voxel coordinates normalised by the
// volume's shape, divided by the unit cube's diagonal.
func hausdorff3D(pred, truth *volume) float64 {
	np, nt := len(pred.on), len(truth.on)
	switch {
	case np == 0 && nt == 0:
		return math.NaN()
	case np == nt && pred.d == truth.d && sameVoxels(pred, truth):
		return 0
	case np == 0 || nt == 0:
		return 1
	case np > 10*nt:
		return 1
	}
	shape := [3]float64{float64(truth.d), float64(truth.h), float64(truth.w)}
	norm := func(c [3]int) [3]float64 {
		return [3]float64{float64(c[0]) / shape[0], float64(c[1]) / shape[1], float64(c[2]) / shape[2]}
	}
	a := make([][3]float64, nt)
	for i, c := range truth.on {
		a[i] = norm(c)
	}
	b := make([][3]float64, np)
	for i, c := range pred.on {
		b[i] = norm(c)
	}
	return math.Max(directedHausdorff(a, b), directedHausdorff(b, a)) / math.Sqrt(3)
}

func sameVoxels(a, b *volume) bool {
	for c := range a.set {
		if !b.set[c] {
			return false
		}
	}
	return true
}

// directedHausdorff is the largest distance from a point of u to its
// nearest point of v, with nearest points found in a k-d tree over v, so a
// real case-day (tens of thousands of voxels) grades quickly.
func directedHausdorff(u, v [][3]float64) float64 {
	tree := buildKD(append([][3]float64(nil), v...), 0)
	var cmax float64
	for _, p := range u {
		if d := tree.nearest(p, math.Inf(1)); d > cmax {
			cmax = d
		}
	}
	return math.Sqrt(cmax)
}

// kdNode is a k-d tree over 3D points.
type kdNode struct {
	p           [3]float64
	axis        int
	left, right *kdNode
}

func buildKD(pts [][3]float64, depth int) *kdNode {
	if len(pts) == 0 {
		return nil
	}
	axis := depth % 3
	sort.Slice(pts, func(i, j int) bool { return pts[i][axis] < pts[j][axis] })
	m := len(pts) / 2
	return &kdNode{p: pts[m], axis: axis, left: buildKD(pts[:m], depth+1), right: buildKD(pts[m+1:], depth+1)}
}

// nearest returns the squared distance from q to the nearest point, or
// best when none is nearer.
func (n *kdNode) nearest(q [3]float64, best float64) float64 {
	if n == nil {
		return best
	}
	dx, dy, dz := q[0]-n.p[0], q[1]-n.p[1], q[2]-n.p[2]
	if d := dx*dx + dy*dy + dz*dz; d < best {
		best = d
	}
	diff := q[n.axis] - n.p[n.axis]
	near, far := n.left, n.right
	if diff > 0 {
		near, far = far, near
	}
	best = near.nearest(q, best)
	if diff*diff < best {
		best = far.nearest(q, best)
	}
	return best
}

func gradeSalt(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "id", "rle_mask"); err != nil {
		return 0, err
	}
	if len(sub.header) != 2 {
		return 0, invalid("the submission has columns %s: it must have exactly id and rle_mask", quoteAll(sub.header))
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	const size = 101 * 101
	t, p := ans.strsFill("rle_mask"), pick(sub.strsFill("rle_mask"), order)
	var s float64
	for i := range t {
		pm, err := rleMask(p[i], size)
		if err != nil {
			return 0, invalid("id %q: %v", ans.text("id")[i], err)
		}
		tm, err := rleMask(t[i], size)
		if err != nil {
			return 0, ans.fault("row %d: %v", i+1, err)
		}
		s += saltIoU(tm, pm)
	}
	return s / float64(len(t)), nil
}

func gradeTweet(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "textID", "selected_text"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "textID")
	if err != nil {
		return 0, err
	}
	t, p := ans.strsFill("selected_text"), pick(sub.strsFill("selected_text"), order)
	var s float64
	for i := range t {
		v, err := jaccardWords(wordSet(p[i]), wordSet(t[i]), true)
		if err != nil {
			return 0, invalid("textID %q: %v (MLE-bench's grader fails on it): write the selected text", ans.text("textID")[i], err)
		}
		s += v
	}
	return s / float64(len(t)), nil
}

func gradePatent(sub, ans *frame) (float64, error) {
	if err := needBoth(sub, ans, "id", "score"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	t, p, err := alignedNums(sub, ans, "score", order)
	if err != nil {
		return 0, err
	}
	r := pearson(t, p)
	if math.IsNaN(r) {
		return 0, invalid("the Pearson correlation is undefined: the scores are constant")
	}
	return r, nil
}

func gradeVentilator(sub, ans *frame) (float64, error) {
	if err := ans.need("id", "pressure", "u_out"); err != nil {
		return 0, err
	}
	if err := sub.need("id", "pressure"); err != nil {
		return 0, err
	}
	order, err := align(sub, ans, "id")
	if err != nil {
		return 0, err
	}
	t, p, err := alignedNums(sub, ans, "pressure", order)
	if err != nil {
		return 0, err
	}
	uOut, err := ans.nums("u_out")
	if err != nil {
		return 0, err
	}
	var tt, pp []float64
	for i := range t {
		if uOut[i] == 0 {
			tt, pp = append(tt, t[i]), append(pp, p[i])
		}
	}
	if len(tt) == 0 {
		return 0, ans.fault("no row has u_out == 0")
	}
	return mae(tt, pp)
}

func gradeVesuvius(sub, ans *frame) (float64, error) {
	if err := ans.need("Id", "Predicted", "width", "height"); err != nil {
		return 0, err
	}
	if sub.n() != ans.n() {
		return 0, invalid("the submission has %d rows, the answers %d", sub.n(), ans.n())
	}
	if len(sub.header) != 2 {
		return 0, invalid("the submission has columns %s: it must have exactly Id and Predicted", quoteAll(sub.header))
	}
	if err := sub.need("Id", "Predicted"); err != nil {
		return 0, err
	}
	w, err := ans.ints("width")
	if err != nil {
		return 0, err
	}
	h, err := ans.ints("height")
	if err != nil {
		return 0, err
	}
	sIDs, aIDs := sub.text("Id"), ans.text("Id")
	sp, ap := sub.text("Predicted"), ans.text("Predicted")
	var s float64
	for i := range aIDs {
		if sIDs[i] != aIDs[i] {
			return 0, invalid("row %d has Id %q where the answers have %q: keep the sample submission's row order", i+1, sIDs[i], aIDs[i])
		}
		if isNA(strings.TrimSpace(sp[i])) {
			return 0, invalid("row %d: Predicted is empty: write an RLE string", i+1)
		}
		size := int(w[i] * h[i])
		pm, err := rleMask(sp[i], size)
		if err != nil {
			return 0, invalid("Id %q: %v", aIDs[i], err)
		}
		tm, err := rleMask(ap[i], size)
		if err != nil {
			return 0, ans.fault("row %d: %v", i+1, err)
		}
		s += fbetaMask(tm, pm, 0.5)
	}
	return s / float64(len(aIDs)), nil
}

// readJSONL reads a JSON-lines file into one map per line.
func readJSONL(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber() // example ids exceed float64's exact integers
		if err := dec.Decode(&m); err != nil {
			return nil, errf("line %d: %w", i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}
