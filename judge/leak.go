package judge

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	readsSample = regexp.MustCompile(`(\w+)\s*=\s*\w+\.read_csv\([^)]*sample_submission`)
	copiesFile  = regexp.MustCompile(`shutil\.copy\w*\([^)]*sample_submission`)
)

// Leaks looks at a solution's code before it runs, for reads of files the solution must not
// see: the task's private answers (by path or by name), the task's own folder instead of the
// data view (where the holdout's labels lie), the judge's folder, and the sample submission's
// values written out as predictions. It returns one line per finding.
func (j *Judge) Leaks(code string) []string {
	var found []string
	for _, p := range j.private {
		if p != "" && strings.Contains(code, p) {
			found = append(found, fmt.Sprintf("reads the private path %s", p))
		}
	}
	if j.task.AnswersPath != "" {
		name := filepath.Base(j.task.AnswersPath)
		if strings.Contains(code, name) && !publicName(j.DataDir, name) {
			found = append(found, fmt.Sprintf("names the answers file %q, which is private", name))
		}
	}
	if strings.Contains(code, "/private/") || strings.Contains(code, `"private"`) || strings.Contains(code, `'private'`) {
		found = append(found, "reads a private/ folder")
	}
	if j.DataDir != j.task.PublicDir && strings.Contains(code, j.task.PublicDir) {
		found = append(found, fmt.Sprintf("reads the task's folder %s instead of GOME_DATA_DIR", j.task.PublicDir))
	}
	if root := j.task.Root; root != "" && strings.Contains(code, root) && !strings.Contains(code, j.task.PublicDir) {
		found = append(found, fmt.Sprintf("reads the task's folder %s", root))
	}
	if copiesFile.MatchString(code) {
		found = append(found, "copies the sample submission as its predictions")
	}
	for _, m := range readsSample.FindAllStringSubmatch(code, -1) {
		v := regexp.QuoteMeta(m[1])
		written := regexp.MustCompile(v + `\.to_csv\(`).MatchString(code)
		filled := regexp.MustCompile(v + `(\[[^\]]+\]|\.\w+)\s*=[^=]`).MatchString(code)
		if written && !filled {
			found = append(found, fmt.Sprintf("writes the sample submission's values (%s) as its predictions", m[1]))
		}
	}
	return found
}

// publicName reports whether dir holds a file of that name, in which case naming it is fine.
func publicName(dir, name string) bool {
	tb, err := readCSV(filepath.Join(dir, name))
	return err == nil && tb != nil
}
