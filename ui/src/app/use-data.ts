/** Load data for a view, and poll it while `live` says so (a running run or task). */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  /** Bumps when the data was reloaded by polling. */
  version: number;
}

export function useData<T>(load: () => Promise<T>, deps: unknown[], live?: (data: T) => boolean, everyMs = 1000): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({ loading: true, version: 0 });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (first: boolean) => {
      try {
        const data = await loadRef.current();
        if (stopped) return;
        setState((s) => ({ data, loading: false, version: first ? 0 : s.version + 1 }));
        if (live?.(data)) timer = setTimeout(() => void tick(false), everyMs);
      } catch (error) {
        if (!stopped) setState((s) => ({ ...s, error: error as Error, loading: false }));
      }
    };
    setState({ loading: true, version: 0 });
    void tick(true);
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, deps);
  return state;
}
