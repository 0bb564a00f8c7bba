declare module 'async-exit-hook' {
  interface AsyncExitHook {
    hookedEvents(): string[]
    unhookEvent(event: string): void
  }
  const exitHook: AsyncExitHook
  export default exitHook
}
