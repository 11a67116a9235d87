// cds loads srv/*.ts only when CDS_TYPESCRIPT tells it that it runs under TypeScript.
module.exports = async () => {
  process.env.CDS_TYPESCRIPT = 'true';
};
