package controllers

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/promotion"
)

// setImages writes the Freight's images, by digest, into spec.images of
// each target Stack that uses their repositories, and records the Stacks'
// generations: Ready for those generations means running the Freight.
func (r *PromotionReconciler) setImages(ctx context.Context, s *promotionScope) (bool, error) {
	p := s.promotion
	generations := map[string]int64{}
	var changed []string
	for _, target := range s.stage.Spec.Targets {
		stack := &kargov1.Stack{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: target.Stack}, stack); err != nil {
			if apierrors.IsNotFound(err) {
				return false, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("target Stack %s of Stage %s not found", target.Stack, s.stage.Name))
			}
			return false, fmt.Errorf("get stack %s: %w", target.Stack, err)
		}
		used, err := r.stackRepositories(ctx, stack)
		if err != nil {
			return false, err
		}
		images, set := promotion.StackImages(stack.Spec.Images, used, s.freight)
		if len(set) == 0 {
			continue
		}
		if !equality.Semantic.DeepEqual(images, stack.Spec.Images) {
			patch := client.MergeFrom(stack.DeepCopy())
			stack.Spec.Images = images
			if err := r.Patch(ctx, stack, patch); err != nil {
				if apierrors.IsInvalid(err) {
					return false, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("Stack %s refused the images: %v", stack.Name, err))
				}
				return false, fmt.Errorf("set images of stack %s: %w", stack.Name, err)
			}
			r.Recorder.Eventf(stack, "Normal", "Promoted", "%s set %s by Promotion %s", freightDisplay(s.freight), strings.Join(set, ", "), p.Name)
		}
		generations[stack.Name] = stack.Generation
		changed = append(changed, fmt.Sprintf("%s (%s)", stack.Name, strings.Join(set, ", ")))
	}
	if len(generations) == 0 {
		var repos []string
		for _, img := range s.freight.Spec.Images {
			repos = append(repos, img.RepoURL)
		}
		return false, r.finish(ctx, s, kargov1.PromotionErrored, fmt.Sprintf("no target Stack of Stage %s uses an image of %s (%s)", s.stage.Name, freightDisplay(s.freight), strings.Join(repos, ", ")))
	}
	p.Status.StackGenerations = generations
	endStep(p, kargov1.PromotionSucceeded, "images set on "+strings.Join(changed, "; "))
	return true, nil
}

// stackRepositories are the image repositories a Stack's Services use.
func (r *PromotionReconciler) stackRepositories(ctx context.Context, stack *kargov1.Stack) ([]string, error) {
	var services kargov1.ServiceList
	if err := r.List(ctx, &services, client.InNamespace(stack.Namespace), client.MatchingFields{serviceStackIndex: stack.Name}); err != nil {
		return nil, fmt.Errorf("list services of stack %s: %w", stack.Name, err)
	}
	images := make([]string, 0, len(services.Items))
	for _, svc := range services.Items {
		images = append(images, svc.Spec.Image)
	}
	return promotion.Repositories(images), nil
}
