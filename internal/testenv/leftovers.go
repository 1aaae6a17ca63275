package testenv

import (
	"context"
	"errors"
	"strings"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	dockerclient "github.com/docker/docker/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// SwarmLeftovers lists what a test package left on the Swarm: the services,
// networks, configs and secrets Kargo owns for a Kubernetes namespace
// starting with ownerPrefix (the package's tests' namespaces; other
// packages may be testing on the same Swarm meanwhile), and the volumes
// whose names start with one of volumePrefixes (volumes outlive their
// Stacks by design: each test removes its own).
func SwarmLeftovers(ctx context.Context, docker *dockerclient.Client, ownerPrefix string, volumePrefixes ...string) ([]string, error) {
	owned := filters.NewArgs(filters.Arg("label", kargov1.OwnerLabel))
	ours := func(labels map[string]string) bool { return strings.HasPrefix(labels[kargov1.OwnerLabel], ownerPrefix) }
	var left []string
	services, err := docker.ServiceList(ctx, dockerswarm.ServiceListOptions{Filters: owned})
	for _, s := range services {
		if ours(s.Spec.Labels) {
			left = append(left, "service "+s.Spec.Name)
		}
	}
	networks, err2 := docker.NetworkList(ctx, network.ListOptions{Filters: owned})
	for _, n := range networks {
		if ours(n.Labels) {
			left = append(left, "network "+n.Name)
		}
	}
	configs, err3 := docker.ConfigList(ctx, dockerswarm.ConfigListOptions{Filters: owned})
	for _, c := range configs {
		if ours(c.Spec.Labels) {
			left = append(left, "config "+c.Spec.Name)
		}
	}
	secrets, err4 := docker.SecretList(ctx, dockerswarm.SecretListOptions{Filters: owned})
	for _, s := range secrets {
		if ours(s.Spec.Labels) {
			left = append(left, "secret "+s.Spec.Name)
		}
	}
	volumes, err5 := docker.VolumeList(ctx, volume.ListOptions{})
	for _, v := range volumes.Volumes {
		for _, prefix := range volumePrefixes {
			if strings.HasPrefix(v.Name, prefix) {
				left = append(left, "volume "+v.Name)
				break
			}
		}
	}
	return left, errors.Join(err, err2, err3, err4, err5)
}
