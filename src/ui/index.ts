/** What the rest of kcore-wizard (commands, dashboard) may use from the UI. */
export { ProvisioningGrid, StateCounts, countStates, type ProvisioningGridProps } from './components/ProvisioningGrid.js';
export { HostPanel, HostLine, type HostPanelProps } from './components/HostPanel.js';
export { planGrid, MIN_PANEL_WIDTH, type GridPlan } from './components/layout.js';
export { runWizard, startWizard, isInteractive, NOT_A_TERMINAL, type RunWizardOptions } from './wizard/run.js';
export type { WizardActions, PreflightCheck, UpResult, LoadedWorkspace } from './wizard/actions.js';
export { NotAvailableError } from './wizard/actions.js';
export { createEventBuffer, type EventBuffer } from './event-buffer.js';
export { ThemeProvider, makeTheme, colourFromEnv, STATE_GLYPH, STATE_WORD } from './theme.js';
export { createCleanupRegistry, enterFullScreen, guardProcess } from './terminal.js';
