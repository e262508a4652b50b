// Runs promtail `template` stages with Go's real text/template, the way promtail 3.6 does
// (clients/pkg/logentry/stages/template.go): every extracted value as a string, the source
// value also as .Value, an empty result deletes the key. Only the functions our templates use
// are provided, so a template calling anything else fails here instead of in promtail.
//
// stdin: {"stages": [{"source": "...", "template": "..."}], "cases": [{"key": "value"}, ...]}
// stdout: the extracted map of each case after all stages, as a JSON array.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"
)

type stage struct {
	Source   string `json:"source"`
	Template string `json:"template"`
}

type input struct {
	Stages []stage             `json:"stages"`
	Cases  []map[string]string `json:"cases"`
}

var functions = template.FuncMap{"ToLower": strings.ToLower, "ToUpper": strings.ToUpper}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	templates := make([]*template.Template, len(in.Stages))
	for i, s := range in.Stages {
		t, err := template.New(s.Source).Funcs(functions).Parse(s.Template)
		if err != nil {
			fail(err)
		}
		templates[i] = t
	}
	out := make([]map[string]string, len(in.Cases))
	for i, extracted := range in.Cases {
		for j, s := range in.Stages {
			data := map[string]interface{}{}
			for k, v := range extracted {
				data[k] = v
			}
			if v, ok := extracted[s.Source]; ok {
				data["Value"] = v
			}
			var buf bytes.Buffer
			if err := templates[j].Execute(&buf, data); err != nil {
				fail(err)
			}
			if buf.Len() == 0 {
				delete(extracted, s.Source)
			} else {
				extracted[s.Source] = buf.String()
			}
		}
		out[i] = extracted
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
