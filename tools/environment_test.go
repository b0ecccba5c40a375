package tools

import (
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/gome-agent/gome/engine"
	"github.com/gome-agent/gome/sandbox"
)

// TestEnvironmentResource reads gome://sandbox/environment through a go-sdk client: it is listed,
// and it reports what the local sandbox's Python itself says.
func TestEnvironmentResource(t *testing.T) {
	if testing.Short() {
		t.Skip("probes the local sandbox with a real Python, which imports every ML package found (seconds)")
	}
	t.Parallel()
	sb, err := sandbox.NewLocal("/usr/bin/python3", nil)
	if err != nil {
		t.Skipf("no system Python for the local sandbox: %v", err)
	}
	e := newEnv(t, nil, sb)
	cs := e.connect(t, "", nil)
	ctx := context.Background()

	list, err := cs.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, r := range list.Resources {
		if r.URI == EnvironmentURI {
			listed = r.MIMEType == "application/json" && strings.Contains(r.Description, "Python")
		}
	}
	if !listed {
		t.Errorf("resources/list does not offer %s as JSON with a description: %+v", EnvironmentURI, list.Resources)
	}

	res, err := cs.ReadResource(ctx, &sdk.ReadResourceParams{URI: EnvironmentURI})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Contents) != 1 || res.Contents[0].MIMEType != "application/json" {
		t.Fatalf("contents %+v, want one JSON document", res.Contents)
	}
	var env engine.Environment
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &env); err != nil {
		t.Fatalf("the resource is not an environment: %v\n%s", err, res.Contents[0].Text)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", "import platform, numpy; print(platform.python_version(), numpy.__version__)").Output()
	if err != nil {
		t.Fatalf("asking Python for its version: %v", err)
	}
	fields := strings.Fields(string(out))
	if env.Backend != sandbox.BackendLocal || env.Python != fields[0] || env.Packages["numpy"] != fields[1] {
		t.Errorf("backend %q, Python %q, numpy %q; want local, %s, %s", env.Backend, env.Python, env.Packages["numpy"], fields[0], fields[1])
	}
	if env.CPUs != float64(runtime.NumCPU()) || env.MemoryBytes <= 0 || env.DiskFreeBytes <= 0 {
		t.Errorf("cpus %g (want %d), memory %d, free disk %d", env.CPUs, runtime.NumCPU(), env.MemoryBytes, env.DiskFreeBytes)
	}
}

// TestEnvironmentResourceWithoutSandbox: a server that cannot probe its sandbox says which
// backends can, instead of returning an empty report.
func TestEnvironmentResourceWithoutSandbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	cs := e.connect(t, "", nil)
	_, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: EnvironmentURI})
	if err == nil || !strings.Contains(err.Error(), "--sandbox docker|local") {
		t.Fatalf("reading %s without a sandbox: error %v, want one naming the backends that can be probed", EnvironmentURI, err)
	}
}
