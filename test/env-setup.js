process.env.CDS_TYPESCRIPT = 'true';
