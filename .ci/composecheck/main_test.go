package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		compose string
		files   map[string]string // extra files beside the compose file
		wantErr string            // empty: valid
	}{
		{
			name: "valid",
			compose: `
services:
  app:
    build: .
    depends_on:
      db: {condition: service_healthy}
    deploy: {replicas: 3}
    volumes: [data:/data]
  db:
    image: nats:2-alpine
    healthcheck:
      test: ["CMD", "true"]
volumes:
  data:
`,
			files: map[string]string{"Dockerfile": "FROM scratch\n"},
		},
		{
			name:    "unknown key",
			compose: "services:\n  app:\n    image: x\n    healtcheck: {test: [CMD, 'true']}\n",
			wantErr: "healtcheck",
		},
		{
			name:    "depends on a missing service",
			compose: "services:\n  app:\n    image: x\n    depends_on: [db]\n",
			wantErr: "db",
		},
		{
			name:    "undefined volume",
			compose: "services:\n  app:\n    image: x\n    volumes: [data:/data]\n",
			wantErr: "data",
		},
		{
			name:    "undefined network",
			compose: "services:\n  app:\n    image: x\n    networks: [backend]\n",
			wantErr: "backend",
		},
		{
			name:    "replicas not a number",
			compose: "services:\n  app:\n    image: x\n    deploy: {replicas: three}\n",
			wantErr: "replicas",
		},
		{
			name:    "missing dockerfile",
			compose: "services:\n  app:\n    build: .\n",
			wantErr: "dockerfile",
		},
		{
			name:    "neither image nor build",
			compose: "services:\n  app:\n    command: [run]\n",
			wantErr: "image",
		},
		{
			name:    "not yaml",
			compose: "services: [\n",
			wantErr: "yaml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "compose.yml")
			write(t, path, tt.compose)
			for name, content := range tt.files {
				write(t, filepath.Join(dir, name), content)
			}
			_, err := check(context.Background(), path)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("check: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("check passed, want an error about %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(strings.ToLower(err.Error()), tt.wantErr):
				t.Fatalf("check: %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}

// TestProjectCompose checks the project's own docker-compose.yml and what the
// deployment relies on.
func TestProjectCompose(t *testing.T) {
	t.Parallel()
	p, err := check(context.Background(), filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, name := range []string{"nats", "hookworker", "receiver"} {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("service %s missing", name)
			continue
		}
		if svc.HealthCheck == nil || svc.HealthCheck.Disable {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	hw := p.Services["hookworker"]
	if hw.Deploy == nil || hw.Deploy.Replicas == nil || *hw.Deploy.Replicas < 2 {
		t.Errorf("hookworker should run several replicas, deploy: %+v", hw.Deploy)
	}
	for _, v := range []string{"HOOKWORKER_NATS_URL", "HOOKWORKER_ALLOWED_NETWORKS", "HOOKWORKER_HTTP_ADDR"} {
		if val := hw.Environment[v]; val == nil || *val == "" {
			t.Errorf("hookworker: %s not set", v)
		}
	}
}

// TestProjectClusterCompose checks docker-compose.cluster.yml: three NATS
// servers with JetStream in one cluster, each routing to the other two,
// each with a store of its own; several workers that know every server and
// create everything with three replicas.
func TestProjectClusterCompose(t *testing.T) {
	t.Parallel()
	p, err := check(context.Background(), filepath.Join("..", "..", "docker-compose.cluster.yml"))
	if err != nil {
		t.Fatalf("docker-compose.cluster.yml: %v", err)
	}
	servers := []string{"nats-1", "nats-2", "nats-3"}
	volumes := map[string]bool{}
	for _, name := range append(slices.Clone(servers), "hookworker", "receiver") {
		svc, ok := p.Services[name]
		if !ok {
			t.Fatalf("service %s missing", name)
		}
		if svc.HealthCheck == nil || svc.HealthCheck.Disable {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	for _, name := range servers {
		svc := p.Services[name]
		args := flags(svc.Command)
		for _, want := range []string{"-js", "--cluster_name", "--cluster"} {
			if _, ok := args[want]; !ok {
				t.Errorf("%s: no %s in %q", name, want, svc.Command)
			}
		}
		if args["--cluster_name"] != "hooks" {
			t.Errorf("%s: cluster name %q, want hooks, as the others", name, args["--cluster_name"])
		}
		routes := strings.Split(args["--routes"], ",")
		for _, other := range servers {
			if other != name && !slices.Contains(routes, "nats://"+other+":6222") {
				t.Errorf("%s: routes %q miss %s", name, args["--routes"], other)
			}
		}
		stored := false
		for _, v := range svc.Volumes {
			if v.Target == args["-sd"] {
				stored = !volumes[v.Source]
				volumes[v.Source] = true
			}
		}
		if !stored {
			t.Errorf("%s: its store %q is not on a volume of its own", name, args["-sd"])
		}
	}
	hw := p.Services["hookworker"]
	if hw.Deploy == nil || hw.Deploy.Replicas == nil || *hw.Deploy.Replicas < 2 {
		t.Errorf("hookworker should run several replicas, deploy: %+v", hw.Deploy)
	}
	if r := hw.Environment["HOOKWORKER_REPLICAS"]; r == nil || *r != "3" {
		t.Errorf("hookworker: HOOKWORKER_REPLICAS %v, want 3", r)
	}
	url := hw.Environment["HOOKWORKER_NATS_URL"]
	for _, name := range servers {
		if url == nil || !slices.Contains(strings.Split(*url, ","), "nats://"+name+":4222") {
			t.Errorf("hookworker: HOOKWORKER_NATS_URL %v misses %s", url, name)
		}
		if dep, ok := hw.DependsOn[name]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("hookworker does not wait for %s to be healthy", name)
		}
	}
}

// flags returns a command's flags and their values ("" for a flag followed
// by another flag or by nothing).
func flags(cmd []string) map[string]string {
	out := map[string]string{}
	for i, arg := range cmd {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		out[arg] = ""
		if i+1 < len(cmd) && !strings.HasPrefix(cmd[i+1], "-") {
			out[arg] = cmd[i+1]
		}
	}
	return out
}

// TestReceiverAllowed checks, in each compose file, that the receiver's
// fixed address is inside both its network's subnet and the workers'
// HOOKWORKER_ALLOWED_NETWORKS, so that deliveries to it pass the SSRF check.
func TestReceiverAllowed(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"docker-compose.yml", "docker-compose.cluster.yml"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			receiverAllowed(t, file)
		})
	}
}

func receiverAllowed(t *testing.T, file string) {
	p, err := check(context.Background(), filepath.Join("..", "..", file))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	allowed := p.Services["hookworker"].Environment["HOOKWORKER_ALLOWED_NETWORKS"]
	if allowed == nil {
		t.Fatal("HOOKWORKER_ALLOWED_NETWORKS not set")
	}
	var prefixes []netip.Prefix
	for _, s := range strings.Split(*allowed, ",") {
		pfx, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("HOOKWORKER_ALLOWED_NETWORKS: %v", err)
		}
		prefixes = append(prefixes, pfx)
	}
	for netName, cfg := range p.Services["receiver"].Networks {
		if cfg == nil || cfg.Ipv4Address == "" {
			t.Fatalf("receiver on %s has no fixed address", netName)
		}
		addr, err := netip.ParseAddr(cfg.Ipv4Address)
		if err != nil {
			t.Fatalf("receiver address: %v", err)
		}
		inSubnet := false
		for _, pool := range p.Networks[netName].Ipam.Config {
			if pfx, err := netip.ParsePrefix(pool.Subnet); err == nil && pfx.Contains(addr) {
				inSubnet = true
			}
		}
		if !inSubnet {
			t.Errorf("receiver address %s is outside network %s", addr, netName)
		}
		if !slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			t.Errorf("receiver address %s is not in HOOKWORKER_ALLOWED_NETWORKS %s", addr, *allowed)
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
