package watch

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"

	"github.com/mcs-dns/multicluster/internal/object"
)

// mcsGroup is the API group of ServiceImport.
const mcsGroup = "multicluster.x-k8s.io"

// Versions of ServiceImport, newest first: the first one the API server serves is
// watched (spec §1).
var importVersions = []string{"v1beta1", "v1alpha1"}

var errCRDMissing = errors.New("the ServiceImport CRD (serviceimports." + mcsGroup + ") is not installed")

// discoveryTopic is the problem Discover logs.
const discoveryTopic = "ServiceImport discovery and access"

// Discover finds the served ServiceImport version and checks access before the
// reflectors start: a reflector on a missing resource or without RBAC would log an
// error every second; this logs one clear line and retries with backoff (spec: degrade,
// never wedge). It returns true once both succeeded, false when ctx ended first.
func (w *Watches) Discover(ctx context.Context) bool {
	delay := 250 * time.Millisecond
	for {
		b, err := w.discover(ctx)
		if err == nil {
			break
		}
		w.h.Blocked(b)
		w.problem(discoveryTopic, b.String(), err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, w.cfg.RetryMax)
	}
	w.problem(discoveryTopic, "", nil)
	return true
}

// discover finds the served ServiceImport version and checks that this identity may
// list ServiceImports and EndpointSlices; on failure it says what blocks the watches.
func (w *Watches) discover(ctx context.Context) (Blocker, error) {
	var err error
	w.version, err = servedVersion(w.cfg.Kube.Discovery(), mcsGroup, importVersions, resourceImports)
	if err != nil {
		return Unreachable, fmt.Errorf("cannot ask the API server which ServiceImport versions it serves: %w", err)
	}
	if w.version == "" {
		return CRDMissing, fmt.Errorf("%w: answering SERVFAIL (or falling through) for this plugin's zones until it is", errCRDMissing)
	}
	err = w.checkAccess(ctx)
	switch {
	case err == nil:
		w.log.Infof("Watching ServiceImports %s/%s and EndpointSlices labelled %s", mcsGroup, w.version, object.LabelServiceName)
		return 0, nil
	case apierrors.IsForbidden(err):
		return Forbidden, fmt.Errorf("RBAC forbids this plugin to list serviceimports.%s or endpointslices.discovery.k8s.io cluster-wide (grant list and watch on both); retrying: %w", mcsGroup, err)
	case apierrors.IsNotFound(err):
		return CRDMissing, fmt.Errorf("%w: answering SERVFAIL (or falling through) for this plugin's zones until it is", errCRDMissing)
	default:
		return Unreachable, fmt.Errorf("cannot check access to ServiceImports and EndpointSlices: %w", err)
	}
}

// servedVersion returns the first of versions in which the API server serves resource
// of group, or "" when it serves none; err is set when discovery itself fails.
func servedVersion(disc discovery.DiscoveryInterface, group string, versions []string, resource string) (string, error) {
	for _, v := range versions {
		list, err := disc.ServerResourcesForGroupVersion(group + "/" + v)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		for _, r := range list.APIResources {
			if r.Name == resource {
				return v, nil
			}
		}
	}
	return "", nil
}
