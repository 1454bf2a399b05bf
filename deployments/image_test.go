package deployments

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// imageUID is the user the image runs as; the Deployment's runAsUser
// must agree.
const imageUID = 65532

// dockerfileStage is one FROM ... section of the Dockerfile.
type dockerfileStage struct {
	from  string // image reference
	name  string // AS name
	lines []string
}

func parseDockerfile(t *testing.T) []dockerfileStage {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerfileStage
	sc := bufio.NewScanner(f)
	cont := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cont = cont+line, ""
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			st := dockerfileStage{from: fields[1]}
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				st.name = fields[3]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// TestDockerfile checks what can be checked without a Docker engine: a Go
// build stage producing a static, trimmed binary; a final stage from
// scratch with CA certificates, a numeric non-root user and no shell; and
// no registry host in any image reference.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and final", len(stages))
	}
	build, final := stages[0], stages[1]
	if build.from != "golang:1.26" || build.name != "build" {
		t.Errorf("build stage FROM %s AS %s, want golang:1.26 AS build", build.from, build.name)
	}
	buildText := strings.Join(build.lines, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./cmd/erasured"} {
		if !strings.Contains(buildText, want) {
			t.Errorf("the build stage does not use %s", want)
		}
	}
	if final.from != "scratch" {
		t.Errorf("final stage FROM %s, want scratch", final.from)
	}
	var user, entry string
	var certs bool
	for _, l := range final.lines {
		f := strings.Fields(l)
		switch strings.ToUpper(f[0]) {
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = l
		case "COPY":
			if strings.Contains(l, "ca-certificates.crt") && strings.Contains(l, "--from=build") {
				certs = true
			}
		case "RUN", "SHELL":
			t.Errorf("the final stage has no shell to run %q", l)
		}
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (numeric: scratch has no /etc/passwd)", user)
	}
	if !certs {
		t.Error("the final stage does not copy CA certificates from the build stage")
	}
	if !strings.Contains(entry, `["/erasured"]`) {
		t.Errorf("ENTRYPOINT %q, want the exec form [\"/erasured\"]", entry)
	}
	for _, st := range stages {
		if first, _, ok := strings.Cut(st.from, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
			t.Errorf("FROM %s names a registry host; use a bare image name", st.from)
		}
	}
}

// TestImageBuilds builds the image and runs it, where a Docker engine
// answers; elsewhere it is skipped.
func TestImageBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("image build")
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		t.Skipf("no Docker engine answers (`docker info`: %v): the image build is not tested here", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tag := "erasured:test-" + hex.EncodeToString(b)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The test runs in deployments/; the build context is the repository.
	run("build", "-f", "Dockerfile", "-t", tag, "..")
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", tag).Run() })
	if user := strings.TrimSpace(run("image", "inspect", "-f", "{{.Config.User}}", tag)); user != "65532:65532" {
		t.Errorf("image user %q", user)
	}
	// A read-only root and the image's own user, as the Deployment runs it.
	out := run("run", "--rm", "--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges", tag, "help")
	if !strings.Contains(out, "usage: erasured") {
		t.Errorf("`erasured help` in the image printed %q", out)
	}
}
