export async function main(_argv: string[]): Promise<number> {
  process.stdout.write('kcore-wizard: under construction\n');
  return 0;
}
