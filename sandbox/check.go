package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// CheckReport says whether this machine can run the sandbox, for `gome-mcp sandbox check` and for
// start-up logs.
type CheckReport struct {
	DockerHost    string   // where the daemon was looked for
	DockerVersion string   // the daemon's version; "" when it did not answer
	APIVersion    string   // the API version the client settled on with the daemon
	Images        []Image  // sandbox images present, built by BuildImage or tagged gome-sandbox
	GPUs          []GPU    // GPUs nvidia-smi reports on the host
	Problems      []string // what is missing, each with how to fix it; empty when all is well
}

// Image is a sandbox image found on the machine.
type Image struct {
	Tags      []string
	ID        string
	Variant   string // "full", "slim", "cuda", or "" for an image not built by Gome
	Suite     string // the Debian release of an image BuildImage made
	SizeBytes int64
	Created   time.Time
}

// Check reports whether Docker answers and with which version, which sandbox images exist and
// which GPUs the host has. Each missing piece is listed in Problems with how to fix it. The error
// is non-nil only when Docker does not answer; the report then still holds what was found.
func Check(ctx context.Context) (CheckReport, error) {
	var report CheckReport
	gpus, err := DiscoverGPUs(ctx)
	if err != nil {
		report.Problems = append(report.Problems, err.Error())
	}
	report.GPUs = gpus

	cli, err := newDockerClient(ctx)
	if err != nil {
		report.Problems = append(report.Problems, err.Error())
		return report, err
	}
	defer func() { _ = cli.Close() }()
	report.DockerHost = cli.DaemonHost()
	report.APIVersion = cli.ClientVersion()
	version, err := cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		err = fmt.Errorf("%w: version: %w", ErrDockerUnavailable, err)
		report.Problems = append(report.Problems, err.Error())
		return report, err
	}
	report.DockerVersion = version.Version

	images, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		err = fmt.Errorf("%w: listing images: %w", ErrDockerUnavailable, err)
		report.Problems = append(report.Problems, err.Error())
		return report, err
	}
	repo, _, _ := strings.Cut(DefaultImage, ":")
	for _, im := range images.Items {
		variant, built := im.Labels[LabelImage]
		named := slices.ContainsFunc(im.RepoTags, func(t string) bool { return strings.HasPrefix(t, repo+":") })
		if !built && !named {
			continue
		}
		report.Images = append(report.Images, Image{
			Tags: im.RepoTags, ID: im.ID, Variant: variant, Suite: im.Labels[LabelSuite], SizeBytes: im.Size, Created: time.Unix(im.Created, 0),
		})
	}
	if !slices.ContainsFunc(report.Images, func(im Image) bool { return slices.Contains(im.Tags, DefaultImage) }) {
		report.Problems = append(report.Problems, DefaultImage+" is missing; build it with `gome-mcp sandbox build` (offline, from Debian packages)")
	}
	return report, nil
}
