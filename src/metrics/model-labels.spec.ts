import { describe, it, expect } from '@jest/globals';
import { ModelLabels, OTHER_MODEL, UNSPECIFIED_MODEL } from './model-labels.js';

describe('ModelLabels', () => {
  it('labels models the upstreams answered for by name, anything else as other, and no model as unspecified', () => {
    const labels = new ModelLabels();
    expect(labels.label('sim-model')).toBe(OTHER_MODEL);
    labels.learn('sim-model');
    labels.learn('sim-alias');
    labels.learn(undefined);
    expect(labels.label('sim-model')).toBe('sim-model');
    expect(labels.label('sim-alias')).toBe('sim-alias');
    expect(labels.label('client-chosen-9f2c')).toBe(OTHER_MODEL);
    expect(labels.label(undefined)).toBe(UNSPECIFIED_MODEL);
  });

  it('keeps at most 32 names, so a deployment with many aliases cannot grow the label set without bound', () => {
    const labels = new ModelLabels();
    for (let i = 0; i < 100; i++) labels.learn(`m${i}`);
    expect(labels.label('m31')).toBe('m31');
    expect(labels.label('m32')).toBe(OTHER_MODEL);
  });
});
