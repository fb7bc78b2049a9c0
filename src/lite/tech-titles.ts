/**
 * Technology job titles for training the LiteEncoder: "Java Developer",
 * "Python-Entwickler (m/w/d)", "Desarrollador React", "SAP Consultant",
 * "Linux Administrator". ESCO names the occupations (software developer, web
 * developer, database administrator, ...) but no programming language,
 * framework or product, so a model trained on its labels alone reads "Java
 * Developer" as a kind of *developer* and sends it to property developer.
 * Each group below pairs technologies with the role words of one occupation
 * in en/de/es; the training script pairs such titles with that occupation's
 * labels. Written from general knowledge of IT job boards, not from any
 * evaluation set.
 */
import type { AugmentLang } from './augment.js';

/** One occupation (its English ESCO preferred label), the technologies that name it and its role words. */
export interface TechGroup {
  occupation: string;
  techs: string[];
  roles: Record<AugmentLang, string[]>;
}

const DEVELOPER: Record<AugmentLang, string[]> = {
  en: ['Developer', 'Engineer', 'Programmer', 'Software Engineer', 'Software Developer', 'Dev'],
  de: ['Entwickler', 'Softwareentwickler', 'Programmierer', 'Softwareingenieur', 'Entwickler/in', 'Developer'],
  es: ['Desarrollador', 'Programador', 'Ingeniero de Software', 'Desarrollador/a', 'Developer'],
};

export const TECH_GROUPS: TechGroup[] = [
  {
    occupation: 'software developer',
    techs: [
      'Java',
      'Python',
      'C',
      'C++',
      'C#',
      '.NET',
      'Go',
      'Golang',
      'Rust',
      'Scala',
      'Perl',
      'Delphi',
      'COBOL',
      'Haskell',
      'Elixir',
      'Erlang',
      'Clojure',
      'F#',
      'VB.NET',
      'Visual Basic',
      'Groovy',
      'Spring Boot',
      'Java EE',
      'J2EE',
      'Qt',
      'ABAP',
      'Backend',
      'Back-End',
      'Kotlin',
      'Node.js',
      'Microservices',
    ],
    roles: DEVELOPER,
  },
  {
    occupation: 'web developer',
    techs: [
      'PHP',
      'JavaScript',
      'TypeScript',
      'WordPress',
      'Drupal',
      'Joomla',
      'Magento',
      'Shopify',
      'Laravel',
      'Symfony',
      'Ruby on Rails',
      'Rails',
      'Ruby',
      'Django',
      'HTML',
      'HTML/CSS',
      'Full Stack',
      'Fullstack',
      'MERN Stack',
      'LAMP',
      'ASP.NET',
    ],
    roles: DEVELOPER,
  },
  {
    occupation: 'user interface developer',
    techs: ['Frontend', 'Front-End', 'React', 'React.js', 'Angular', 'AngularJS', 'Vue.js', 'Vue', 'Svelte', 'Next.js', 'UI'],
    roles: DEVELOPER,
  },
  {
    occupation: 'mobile application developer',
    techs: ['iOS', 'Android', 'Swift', 'Objective-C', 'Flutter', 'React Native', 'Xamarin', 'Mobile', 'Dart'],
    roles: DEVELOPER,
  },
  {
    occupation: 'digital games developer',
    techs: ['Unity', 'Unity3D', 'Unreal Engine', 'Unreal', 'Game', 'Gameplay'],
    roles: DEVELOPER,
  },
  {
    occupation: 'embedded systems software developer',
    techs: ['Embedded C', 'Embedded', 'Firmware', 'RTOS', 'Embedded Linux', 'Microcontroller'],
    roles: DEVELOPER,
  },
  {
    occupation: 'database developer',
    techs: ['SQL', 'PL/SQL', 'T-SQL', 'Oracle', 'PostgreSQL', 'MySQL', 'SQL Server', 'MongoDB'],
    roles: DEVELOPER,
  },
  {
    occupation: 'database administrator',
    techs: ['Oracle', 'SQL Server', 'PostgreSQL', 'MySQL', 'MongoDB', 'DB2'],
    roles: {
      en: ['DBA', 'Database Administrator', 'Administrator', 'Admin'],
      de: ['Datenbankadministrator', 'DBA', 'Administrator'],
      es: ['Administrador de Bases de Datos', 'DBA', 'Administrador'],
    },
  },
  {
    occupation: 'ICT system administrator',
    techs: ['Linux', 'Windows', 'Windows Server', 'Unix', 'VMware', 'Active Directory', 'Exchange', 'Microsoft 365', 'Citrix'],
    roles: {
      en: ['Administrator', 'System Administrator', 'Sysadmin', 'Admin', 'Systems Engineer'],
      de: ['Administrator', 'Systemadministrator', 'Admin', 'Systemadministrator/in'],
      es: ['Administrador', 'Administrador de Sistemas', 'Administrador/a'],
    },
  },
  {
    occupation: 'ICT network engineer',
    techs: ['Cisco', 'CCNA', 'CCNP', 'Juniper', 'Network', 'LAN/WAN'],
    roles: {
      en: ['Engineer', 'Network Engineer', 'Specialist'],
      de: ['Netzwerkingenieur', 'Netzwerktechniker', 'Engineer'],
      es: ['Ingeniero de Redes', 'Ingeniero', 'Técnico de Redes'],
    },
  },
  {
    occupation: 'cloud engineer',
    techs: ['AWS', 'Azure', 'GCP', 'Google Cloud', 'Cloud', 'OpenStack'],
    roles: {
      en: ['Engineer', 'Cloud Engineer', 'Specialist', 'Consultant'],
      de: ['Engineer', 'Cloud Engineer', 'Ingenieur', 'Spezialist'],
      es: ['Ingeniero', 'Ingeniero Cloud', 'Especialista'],
    },
  },
  {
    occupation: 'cloud DevOps engineer',
    techs: ['Kubernetes', 'Docker', 'Terraform', 'Ansible', 'Jenkins', 'CI/CD', 'OpenShift', 'SRE', 'Site Reliability'],
    roles: {
      en: ['Engineer', 'DevOps Engineer', 'Specialist', 'Platform Engineer'],
      de: ['Engineer', 'DevOps Engineer', 'Ingenieur', 'Spezialist'],
      es: ['Ingeniero', 'Ingeniero DevOps', 'Especialista'],
    },
  },
  {
    occupation: 'data engineer',
    techs: ['Spark', 'Hadoop', 'Kafka', 'Databricks', 'Snowflake', 'ETL', 'Big Data', 'Airflow', 'BigQuery'],
    roles: {
      en: ['Engineer', 'Data Engineer', 'Developer'],
      de: ['Engineer', 'Data Engineer', 'Entwickler'],
      es: ['Ingeniero', 'Ingeniero de Datos', 'Desarrollador'],
    },
  },
  {
    occupation: 'data analyst',
    techs: ['Power BI', 'Tableau', 'Qlik', 'Excel', 'BI', 'Looker', 'SQL'],
    roles: {
      en: ['Analyst', 'Data Analyst', 'Developer', 'Specialist'],
      de: ['Analyst', 'Datenanalyst', 'Entwickler'],
      es: ['Analista', 'Analista de Datos', 'Desarrollador'],
    },
  },
  {
    occupation: 'artificial intelligence engineer',
    techs: ['Machine Learning', 'ML', 'Deep Learning', 'AI', 'NLP', 'TensorFlow', 'PyTorch', 'LLM', 'MLOps'],
    roles: {
      en: ['Engineer', 'Developer', 'Specialist'],
      de: ['Engineer', 'Entwickler', 'Ingenieur'],
      es: ['Ingeniero', 'Desarrollador', 'Especialista'],
    },
  },
  {
    occupation: 'software tester',
    techs: ['Selenium', 'Cypress', 'Test Automation', 'Automation', 'QA', 'Manual', 'Playwright', 'ISTQB'],
    roles: {
      en: ['Tester', 'Test Engineer', 'QA Engineer', 'Test Analyst'],
      de: ['Tester', 'Testingenieur', 'Softwaretester', 'Testmanager'],
      es: ['Tester', 'Ingeniero de Pruebas', 'Analista de Pruebas'],
    },
  },
  {
    occupation: 'ICT consultant',
    techs: ['SAP', 'SAP FI/CO', 'SAP MM', 'SAP SD', 'SAP S/4HANA', 'Salesforce', 'Dynamics 365', 'ServiceNow', 'ERP', 'CRM', 'Oracle EBS'],
    roles: {
      en: ['Consultant', 'Functional Consultant', 'Specialist', 'Analyst'],
      de: ['Berater', 'Consultant', 'Berater/in', 'Spezialist'],
      es: ['Consultor', 'Consultor Funcional', 'Especialista'],
    },
  },
];

/**
 * A title for `tech` and `role` in `lang`, in one of the orders job boards
 * use ("Java Developer", "Developer (Java)", "Java-Entwickler",
 * "Desarrollador Java", "Programador de PHP"). Driven by `random`.
 */
export function techTitle(tech: string, role: string, lang: AugmentLang, random: () => number): string {
  const r = random();
  if (lang === 'de') {
    if (r < 0.4 && !/[\s/]/.test(tech) && !/[\s/]/.test(role)) return `${tech}-${role}`;
    if (r < 0.8) return `${tech} ${role}`;
    return `${role} ${tech}`;
  }
  if (lang === 'es') {
    if (r < 0.6) return `${role} ${tech}`;
    if (r < 0.8) return `${role} de ${tech}`;
    return `${tech} ${role}`;
  }
  if (r < 0.75) return `${tech} ${role}`;
  if (r < 0.9) return `${role} (${tech})`;
  return `${role} - ${tech}`;
}
