import { ArtifactStore } from '../artifacts/artifact-store.ts';
import type { Datastore } from '../ports/datastore.ts';
import type { MetadataStore } from '../ports/metadata-store.ts';
import type { Namespace } from './namespace.ts';

/** What every client object reads through: the stores, the namespace, one artifact store per flow. @internal */
export class ClientContext {
  private readonly stores = new Map<string, ArtifactStore>();

  constructor(
    readonly metadata: MetadataStore,
    readonly datastore: Datastore,
    readonly namespace: Namespace,
  ) {}

  artifacts(flow: string): ArtifactStore {
    let store = this.stores.get(flow);
    if (!store) this.stores.set(flow, (store = new ArtifactStore(this.datastore, flow)));
    return store;
  }

  withNamespace(namespace: Namespace): ClientContext {
    const next = new ClientContext(this.metadata, this.datastore, namespace);
    for (const [flow, store] of this.stores) next.stores.set(flow, store);
    return next;
  }
}
