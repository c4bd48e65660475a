// Command composecheck validates Compose files with the Compose Specification's
// own loader (the one docker compose uses), without a Docker engine: the file
// must match the specification's schema, every reference (depends_on,
// networks, volumes, configs) must resolve, and every build context must hold
// its Dockerfile.
//
//	go run . ../../docker-compose.yml
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck compose.yml...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		project, err := check(context.Background(), path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		summarize(os.Stdout, path, project)
	}
	if failed {
		os.Exit(1)
	}
}

// check loads the Compose file at path as docker compose would, with an empty
// environment so that the result does not depend on the caller's shell, and
// checks what the loader leaves to the engine.
func check(ctx context.Context, path string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(nil),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, name := range project.ServiceNames() {
		svc := project.Services[name]
		if svc.Image == "" && svc.Build == nil {
			errs = append(errs, fmt.Errorf("service %s: neither image nor build", name))
		}
		if svc.Build != nil {
			if err := checkBuild(svc.Build); err != nil {
				errs = append(errs, fmt.Errorf("service %s: %w", name, err))
			}
		}
	}
	return project, errors.Join(errs...)
}

// checkBuild makes sure a local build context exists and holds its
// Dockerfile. Remote contexts (git, URLs) are left to the engine.
func checkBuild(b *types.BuildConfig) error {
	if b.DockerfileInline != "" || !filepath.IsAbs(b.Context) {
		return nil
	}
	info, err := os.Stat(b.Context)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	if !info.IsDir() {
		return fmt.Errorf("build context %s is not a directory", b.Context)
	}
	dockerfile := b.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(b.Context, dockerfile)
	}
	if _, err := os.Stat(dockerfile); err != nil {
		return fmt.Errorf("dockerfile: %w", err)
	}
	return nil
}

// summarize prints one line per service: its image or build, and replicas.
func summarize(w io.Writer, path string, p *types.Project) {
	fmt.Fprintf(w, "%s: project %q is valid\n", path, p.Name)
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		svc := p.Services[name]
		source := svc.Image
		if svc.Build != nil {
			context := svc.Build.Context
			if rel, err := filepath.Rel(p.WorkingDir, context); err == nil {
				context = rel
			}
			source = "build " + context
			if svc.Image != "" {
				source += " as " + svc.Image
			}
		}
		replicas := 1
		if svc.Deploy != nil && svc.Deploy.Replicas != nil {
			replicas = *svc.Deploy.Replicas
		}
		health := "no healthcheck"
		if svc.HealthCheck != nil && !svc.HealthCheck.Disable {
			health = "healthcheck"
		}
		fmt.Fprintf(w, "  %-12s %s, replicas %d, %s\n", name, source, replicas, health)
	}
}
