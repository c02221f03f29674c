// render-chart renders charts/awsops the way `helm template` would, for the
// subset of Helm the chart uses: Go text/template with sprig's functions,
// plus include, toYaml, nindent (sprig), .Values (values.yaml merged with -f
// files), .Release, .Chart and .Files.Get. There is no Helm binary here; this
// keeps the chart testable. It does not validate values.schema.json.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type files struct{ dir string }

func (f files) Get(name string) string {
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		return ""
	}
	return string(b)
}

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func load(path string) map[string]interface{} {
	out := map[string]interface{}{}
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	if err := yaml.Unmarshal(b, &out); err != nil {
		fail(fmt.Errorf("%s: %w", path, err))
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "render-chart:", err)
	os.Exit(1)
}

func main() {
	var extra valueFiles
	release := flag.String("name", "awsops", "release name")
	namespace := flag.String("namespace", "awsops-system", "release namespace")
	flag.Var(&extra, "f", "values file (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fail(fmt.Errorf("usage: render-chart [-name N] [-namespace NS] [-f values.yaml]... CHART_DIR"))
	}
	dir := flag.Arg(0)
	values := load(filepath.Join(dir, "values.yaml"))
	for _, f := range extra {
		values = merge(values, load(f))
	}
	chart := load(filepath.Join(dir, "Chart.yaml"))
	data := map[string]interface{}{
		"Values":    values,
		"Release":   map[string]interface{}{"Name": *release, "Namespace": *namespace, "Service": "Helm"},
		"Chart":     map[string]interface{}{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
		"Files":     files{dir},
	}
	root := template.New("chart")
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = func(v interface{}) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(b), "\n")
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	root.Funcs(funcs)
	paths, _ := filepath.Glob(filepath.Join(dir, "templates", "*"))
	sort.Strings(paths)
	var outputs []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			fail(err)
		}
		if _, err := root.New(filepath.Base(p)).Parse(string(b)); err != nil {
			fail(fmt.Errorf("%s: %w", p, err))
		}
		if strings.HasSuffix(p, ".yaml") {
			outputs = append(outputs, filepath.Base(p))
		}
	}
	for _, name := range outputs {
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			fail(err)
		}
		text := strings.TrimSpace(buf.String())
		if text == "" {
			continue
		}
		fmt.Printf("---\n# Source: awsops/templates/%s\n%s\n", name, text)
	}
}
