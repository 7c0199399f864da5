export * from './casefile.ts';
export * from './event.ts';
export * from './finding.ts';
export * from './graph.ts';
export * from './provenance.ts';
export * from './trace.ts';
export * from './errors.ts';
export * from './queries.ts';
