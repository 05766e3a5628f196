import { render } from 'preact';
import { FlowsPage } from './pages/flows-page.tsx';
import { RunPage } from './pages/run-page.tsx';
import { RunsPage } from './pages/runs-page.tsx';
import { StepPage } from './pages/step-page.tsx';
import { TaskPage } from './pages/task-page.tsx';
import { href, useRoute } from './router.ts';

function App() {
  const route = useRoute();
  return (
    <>
      <header class="top">
        <a href={href.flows()}>Tributary</a>
        <span class="ns">read-only run browser</span>
      </header>
      <main>
        {route.page === 'flows' ? <FlowsPage /> : null}
        {route.page === 'runs' ? <RunsPage flow={route.flow} /> : null}
        {route.page === 'run' ? <RunPage key={`${route.flow}/${route.runId}`} flow={route.flow} runId={route.runId} /> : null}
        {route.page === 'step' ? (
          <StepPage key={`${route.flow}/${route.runId}/${route.step}`} flow={route.flow} runId={route.runId} step={route.step} />
        ) : null}
        {route.page === 'task' ? (
          <TaskPage
            key={`${route.flow}/${route.runId}/${route.taskId}`}
            flow={route.flow}
            runId={route.runId}
            step={route.step}
            taskId={route.taskId}
            {...(route.tab ? { tab: route.tab } : {})}
          />
        ) : null}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
